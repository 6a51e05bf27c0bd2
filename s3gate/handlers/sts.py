"""STS over HTTP, on the S3 port: `POST /` with a form body, or `GET /?Action=…`.

AssumeRoleWithWebIdentity is unsigned in AWS (the token is the credential),
so these requests skip SigV4 entirely: botocore's web-identity provider sends
them with `signature_version=UNSIGNED`. No S3 operation is a form POST to the
root path, nor a GET of the root with an `Action` parameter, which is what
tells the two APIs apart on one endpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from s3gate.handlers.outcome import Tally
from s3gate.identity import sts_xml
from s3gate.identity.principal import Principal
from s3gate.identity.sts import StsService
from s3gate.identity.sts_errors import (
    InternalFailure,
    InvalidAction,
    MissingAction,
    StsError,
    ValidationError,
)
from s3gate.s3.numbers import whole_number

log = logging.getLogger("s3gate.sts")

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 64
ACTION = "AssumeRoleWithWebIdentity"
API_VERSION = "2011-06-15"
_NAME = re.compile(r"[A-Za-z0-9.]{1,64}")
# The bounds STS itself puts on RoleArn: a longer or shorter value is not
# recorded (it is refused as a ValidationError anyway).
_ROLE_ARN_LENGTH = range(20, 2049)


@dataclass(frozen=True)
class StsOutcome:
    """What one STS request came to, for its audit event and access-log line
    (a typed record, not a dict both sides must spell alike)."""

    operation: str  # "sts:AssumeRoleWithWebIdentity", or "sts" when unnamed
    role_arn: str | None = None  # the RoleArn asked for, granted or not
    principal: Principal | None = None  # the new session's principal, if granted
    error: str | None = None  # the STS error code, if refused

    def record(self, tally: Tally) -> None:
        """Into the request's record (its audit event and access-log line)."""
        tally.operation, tally.error, tally.role_arn = self.operation, self.error, self.role_arn
        if self.principal is not None:
            tally.session(self.principal)


@dataclass(frozen=True)
class StsReply:
    response: Response
    outcome: StsOutcome


async def read_sts_params(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The STS parameters of a request: the form body of a POST, the query
    of a GET. Raises ValidationError for a body too large, text that is not
    UTF-8, too many fields or a repeated field."""
    if request.method == "GET":
        raw = request.scope.get("query_string", b"")
    else:
        declared = request.headers.get("content-length")
        length = whole_number(declared) if declared is not None else None
        if declared is not None and (length is None or length > max_bytes):
            raise ValidationError("The request body is too large.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise ValidationError("The request body is too large.")
        raw = bytes(body)
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The request parameters could not be decoded.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            # Two RoleArn values would leave it to chance which one is checked.
            raise ValidationError("A request parameter is repeated.")
        params[name] = value
    return params


async def serve_sts(
    request: Request,
    request_id: str,
    service: StsService | None,
    tally: Tally | None = None,
) -> Response:
    """`answer_sts_request`, with the outcome recorded in `tally`."""
    reply = await answer_sts_request(request, request_id, service)
    if tally is not None:
        reply.outcome.record(tally)
    return reply.response


async def answer_sts_request(
    request: Request, request_id: str, service: StsService | None
) -> StsReply:
    """Read the parameters of an STS request and answer it (for the gateway,
    after `s3.sts.is_sts`)."""
    try:
        params = await read_sts_params(request)
    except StsError as exc:
        response = _response(sts_xml.error(exc, request_id), exc.status, request_id, secret=False)
        return StsReply(response, StsOutcome("sts", error=exc.code))
    return await answer_sts(params, request_id, service)


def _response(body: bytes, status: int, request_id: str, *, secret: bool) -> Response:
    headers = {"x-amzn-RequestId": request_id}
    if secret:
        headers["Cache-Control"] = "no-store"
    return Response(body, status_code=status, media_type="text/xml", headers=headers)


async def handle_sts(
    params: Mapping[str, str],
    request_id: str,
    service: StsService | None,
    tally: Tally | None = None,
) -> Response:
    """`answer_sts`, with the outcome recorded in `tally`."""
    reply = await answer_sts(params, request_id, service)
    if tally is not None:
        reply.outcome.record(tally)
    return reply.response


async def answer_sts(
    params: Mapping[str, str], request_id: str, service: StsService | None
) -> StsReply:
    """Answer one STS request. `service` None: STS is not configured (no
    session keys)."""
    action = params.get("Action")
    operation = f"sts:{action}" if action and _NAME.fullmatch(action) else "sts"
    asked = params.get("RoleArn")
    role_arn = asked if asked is not None and len(asked) in _ROLE_ARN_LENGTH else None
    try:
        if not action:
            raise MissingAction("The request must contain the parameter Action.")
        version = params.get("Version", API_VERSION)
        if action != ACTION or version != API_VERSION:
            shown = action if _NAME.fullmatch(action) else "(invalid)"
            raise InvalidAction(f"Could not find operation {shown} for version {API_VERSION}.")
        if service is None:
            raise InvalidAction(f"{ACTION} is not enabled on this gateway.")
        result = await service.assume_role_with_web_identity(params)
    except StsError as exc:
        response = _response(sts_xml.error(exc, request_id), exc.status, request_id, secret=False)
        return StsReply(response, StsOutcome(operation, role_arn, error=exc.code))
    except Exception:  # fail closed, with a request id the operator can find
        log.exception("internal error in STS (request %s)", request_id)
        failure = InternalFailure()
        response = _response(sts_xml.error(failure, request_id), 500, request_id, secret=False)
        return StsReply(response, StsOutcome(operation, role_arn, error=failure.code))
    body = sts_xml.assume_role_with_web_identity(result, request_id)
    response = _response(body, 200, request_id, secret=True)
    return StsReply(response, StsOutcome(operation, role_arn, principal=result.principal))
