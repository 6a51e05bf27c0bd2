"""Readiness for probes, and the gateway's detailed status for operators.

`/_s3gate/readyz` is unauthenticated (kubelets and load balancers call it), so
it answers a status and nothing else: the bundle hash, key ids, replica ids
and backlog would tell an outsider which policy version runs, when it
changed and how far the audit trail lags.

`/_s3gate/status` has the details. It takes a SigV4-signed GET (any S3
client's signer: `curl --aws-sigv4`, botocore) and answers only a principal
the policies allow `HeadBucket` on the audit bucket: whoever may see the
audit trail may see how far behind it is. Everyone else gets AccessDenied.
Decided this way so that no new Cedar action and no second port is needed;
see docs/threat-model.md.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from s3gate import errors
from s3gate.authn import Authenticator, RawRequest
from s3gate.policy import enforce
from s3gate.policy.store import PolicyStore
from s3gate.s3.operations import Operation

log = logging.getLogger("s3gate")

STATUS_PATH = "/_s3gate/status"
READY_PATH = "/_s3gate/readyz"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    details: Mapping[str, Any]


Check = Callable[[], Awaitable[Readiness]]


def readyz(check: Check) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        result = await check()
        status = "ready" if result.ready else "unavailable"
        return JSONResponse({"status": status}, 200 if result.ready else 503)

    return endpoint


def status(
    check: Check,
    authenticator: Authenticator,
    policies: PolicyStore,
    audit_bucket: str,
    clock_now: Callable[[], Any],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = RawRequest.from_scope(request.scope, request.method)
        op = Operation("GetGatewayStatus")
        try:
            authn = authenticator.authenticate(raw, op, request.stream())
            context = enforce.context_from_http(
                "HeadBucket",
                headers=raw.headers,
                query={},
                client_ip=request.client.host if request.client else None,
                tls=request.url.scheme == "https",
                presigned=authn.presigned,
                now=clock_now(),
            )
            decision = enforce.authorize(
                policies.current(), authn.principal, "HeadBucket", audit_bucket, None, context
            )
            if not decision.allowed:
                raise errors.AccessDenied(
                    "The gateway status is shown to principals allowed HeadBucket on the "
                    "audit bucket",
                    resource=STATUS_PATH,
                )
        except errors.S3Error as exc:
            log.info(
                "status refused",
                extra={"error": exc.error_code, "client": request.client and request.client.host},
            )
            return Response(
                exc.to_xml(secrets.token_hex(8).upper(), STATUS_PATH),
                status_code=exc.http_status,
                media_type="application/xml",
            )
        result = await check()
        body = {"status": "ready" if result.ready else "unavailable", **result.details}
        return JSONResponse(body, 200)

    return endpoint
