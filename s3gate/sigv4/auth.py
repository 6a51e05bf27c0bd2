"""Parse the credentials a request carries, without touching any secret.

Two shapes are accepted: the `Authorization: AWS4-HMAC-SHA256 ...` header and
the presigned `X-Amz-*` query parameters. Everything else that looks like an
auth attempt (SigV2, SigV4a, presigned SigV2) is refused as an unsupported
mechanism rather than ignored, so a request is never treated as anonymous just
because we did not understand its credentials. Error messages say what is
wrong but never echo the signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import pairwise

from s3gate import errors
from s3gate.s3.numbers import whole_number
from s3gate.sigv4.canonical import ALGORITHM

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOAD_MODES = frozenset(
    {UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER}
)
_SIGV4A_MODES = frozenset(
    {"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"}
)
_UNSUPPORTED = "The authorization mechanism you have provided is not supported. Please use {}."
UNSUPPORTED_MECHANISM = _UNSUPPORTED.format(ALGORITHM)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SCOPE_DATE = re.compile(r"[0-9]{8}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_PRESIGN_MISSING = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)


@dataclass(frozen=True)
class SigV4Auth:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    request_time: datetime
    presigned: bool
    expires: int | None
    security_token: str | None
    payload_hash: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    def __repr__(self) -> str:
        # The session token is a credential; keep it (and the signature) out of logs.
        return (
            f"SigV4Auth(access_key_id={self.access_key_id!r}, scope={self.scope!r}, "
            f"amz_date={self.amz_date!r}, presigned={self.presigned}, "
            f"signed_headers={self.signed_headers!r}, payload_hash={self.payload_hash!r})"
        )


def parse_request_auth(
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]],
    *,
    max_presign_expires: int = 604800,
    service: str = "s3",
) -> SigV4Auth | None:
    """The credentials of a request, or None when it carries none. `service`
    is the one its credential scope must name: a signature made for another
    service (`sts`, or anything) is refused as S3 does, before any key is
    looked up."""
    hdrs: dict[str, list[str]] = {}
    for name, value in headers:
        hdrs.setdefault(name, []).append(value)
    params: dict[str, list[str]] = {}
    for name, value in query:
        params.setdefault(name, []).append(value)

    authorization = hdrs.get("authorization")
    presign_v4 = any(name in params for name in _PRESIGN_PARAMS)
    presign_v2 = "AWSAccessKeyId" in params and "Signature" in params
    if authorization is not None and (presign_v4 or presign_v2):
        raise errors.InvalidArgument("Only one auth mechanism allowed")
    if authorization is not None:
        return _from_header(authorization, hdrs, service)
    if presign_v4:
        return _from_query(params, hdrs, max_presign_expires, service)
    if presign_v2:
        raise errors.InvalidRequest(UNSUPPORTED_MECHANISM)
    return None


def _from_header(values: list[str], hdrs: dict[str, list[str]], expected: str) -> SigV4Auth:
    if len(values) != 1:
        raise errors.AuthorizationHeaderMalformed("More than one Authorization header was sent.")
    scheme, _, rest = values[0].strip().partition(" ")
    if scheme != ALGORITHM:
        # SigV2 ("AWS AK:sig"), SigV4a ("AWS4-ECDSA-P256-SHA256 ...") or anything else.
        raise errors.InvalidRequest(UNSUPPORTED_MECHANISM)

    parts: dict[str, str] = {}
    for component in rest.split(","):
        component = component.strip()
        if not component:
            continue  # tolerate a stray or trailing comma
        key, sep, value = component.partition("=")
        if not sep or key not in ("Credential", "SignedHeaders", "Signature") or key in parts:
            raise _header_malformed(f"unexpected or repeated component {key[:20]!r}")
        parts[key] = value.strip()
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in parts:
            raise _header_malformed(f"missing {key}")

    access_key, date, region, service = _credential(
        parts["Credential"], expected, _header_malformed
    )
    signed = _signed_headers(parts["SignedHeaders"], _header_malformed)
    signature = _signature(parts["Signature"], _header_malformed)
    amz_date, request_time = _header_time(hdrs)
    if date != amz_date[:8]:
        raise _header_malformed(
            f"the credential scope date {date} does not match the request date {amz_date[:8]}"
        )
    return SigV4Auth(
        access_key_id=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=signed,
        signature=signature,
        amz_date=amz_date,
        request_time=request_time,
        presigned=False,
        expires=None,
        security_token=_single(hdrs, "x-amz-security-token"),
        payload_hash=_payload_hash(hdrs, required=True),
    )


def _from_query(
    params: dict[str, list[str]], hdrs: dict[str, list[str]], max_expires: int, expected: str
) -> SigV4Auth:
    for name in (*_PRESIGN_PARAMS, "X-Amz-Security-Token"):
        if len(params.get(name, ())) > 1:
            raise _query_error(f"{name} was given more than once.")
    algorithm = params.get("X-Amz-Algorithm")
    if algorithm is not None and algorithm[0] != ALGORITHM:
        raise errors.InvalidRequest(UNSUPPORTED_MECHANISM)
    if any(name not in params for name in _PRESIGN_PARAMS):
        raise errors.AuthorizationQueryParametersError(_PRESIGN_MISSING)

    access_key, date, region, service = _credential(
        params["X-Amz-Credential"][0], expected, _credential_param_error
    )
    signed = _signed_headers(params["X-Amz-SignedHeaders"][0], _query_error)
    signature = _signature(params["X-Amz-Signature"][0], _query_error)
    amz_date = params["X-Amz-Date"][0]
    request_time = _parse_amz_date(amz_date)
    if request_time is None:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if date != amz_date[:8]:
        raise _query_error(
            f"the credential scope date {date} does not match X-Amz-Date {amz_date[:8]}"
        )
    raw_expires = params["X-Amz-Expires"][0]
    expires = whole_number(raw_expires)
    if expires is None:
        raise _query_error("X-Amz-Expires should be a number")
    if expires < 1:
        raise _query_error("X-Amz-Expires must be non-negative")
    if expires > max_expires:
        raise _query_error(
            f"X-Amz-Expires must be less than a week (in seconds) that is; {max_expires}"
        )
    token = params.get("X-Amz-Security-Token")
    return SigV4Auth(
        access_key_id=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=signed,
        signature=signature,
        amz_date=amz_date,
        request_time=request_time,
        presigned=True,
        expires=expires,
        security_token=token[0] if token else _single(hdrs, "x-amz-security-token"),
        # A presigned URL cannot know the body, so the payload line is the constant
        # unless the client sent (and therefore signed) an explicit hash header.
        payload_hash=_payload_hash(hdrs, required=False),
    )


_ErrorFactory = Callable[[str], errors.S3Error]


def _header_malformed(reason: str) -> errors.S3Error:
    return errors.AuthorizationHeaderMalformed(f"The authorization header is malformed; {reason}.")


def _query_error(reason: str) -> errors.S3Error:
    return errors.AuthorizationQueryParametersError(reason)


def _credential_param_error(reason: str) -> errors.S3Error:
    return errors.AuthorizationQueryParametersError(
        f"Error parsing the X-Amz-Credential parameter; {reason}."
    )


def _credential(value: str, expected: str, fail: _ErrorFactory) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5:
        raise fail("the Credential must have the form <key>/<date>/<region>/<service>/aws4_request")
    access_key, date, region, service, terminal = parts
    if not access_key or not region or not service:
        raise fail("the Credential has an empty access key, region or service")
    if not _SCOPE_DATE.fullmatch(date):
        raise fail(f"the credential scope date {date[:20]!r} is not YYYYMMDD")
    if terminal != "aws4_request":
        raise fail(f"the credential scope must end with aws4_request, not {terminal[:20]!r}")
    if service != expected:
        # S3's own wording (the service is the client's, cut short).
        raise fail(f'incorrect service "{service[:20]}". This endpoint belongs to "{expected}"')
    return access_key, date, region, service


def _signed_headers(value: str, fail: _ErrorFactory) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if any(not name or name != name.lower() or name != name.strip() for name in names):
        raise fail("SignedHeaders must be non-empty lower-case header names separated by ';'")
    if any(a >= b for a, b in pairwise(names)):
        raise fail("SignedHeaders must be sorted and must not repeat a header")
    if "host" not in names:
        raise fail("SignedHeaders must include host")
    return names


def _signature(value: str, fail: _ErrorFactory) -> str:
    signature = value.lower()
    if not _HEX64.fullmatch(signature):
        raise fail("the Signature must be 64 hexadecimal characters")
    return signature


def _single(hdrs: dict[str, list[str]], name: str) -> str | None:
    values = hdrs.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise errors.InvalidArgument(f"The {name} header was sent more than once.")
    return values[0]


def _header_time(hdrs: dict[str, list[str]]) -> tuple[str, datetime]:
    values = hdrs.get("x-amz-date")
    if values:
        if len(values) > 1:
            raise _header_malformed("the x-amz-date header was sent more than once")
        amz_date = values[0]
        parsed = _parse_amz_date(amz_date.strip())
        if parsed is None:
            raise _header_malformed("the x-amz-date header is not in the form YYYYMMDDTHHMMSSZ")
        return amz_date.strip(), parsed
    date = _single(hdrs, "date")
    if date is None:
        raise _header_malformed("a valid x-amz-date or Date header is required")
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _header_malformed("the Date header is not a valid RFC 1123 date") from None
    if parsed.tzinfo is None:
        # email.utils reads RFC 2822's "-0000" as "zone unknown", but for an
        # HTTP date (and for S3) it is UTC; botocore signs Dates that way.
        if not date.rstrip().endswith("-0000"):
            raise _header_malformed("the Date header has no time zone")
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y%m%dT%H%M%SZ"), parsed


def _parse_amz_date(value: str) -> datetime | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        # Slicing instead of strptime: this runs on every request and strptime is slow.
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:  # e.g. month 13 or 30 February
        return None


def _payload_hash(hdrs: dict[str, list[str]], *, required: bool) -> str:
    value = _single(hdrs, "x-amz-content-sha256")
    if value is None:
        if required:
            raise errors.InvalidRequest(
                "Missing required header for this request: x-amz-content-sha256"
            )
        return UNSIGNED_PAYLOAD
    if value in PAYLOAD_MODES or _HEX64.fullmatch(value):
        return value
    if value in _SIGV4A_MODES:
        raise errors.NotImplementedError_(
            "SigV4a streaming payloads (AWS4-ECDSA-P256-SHA256) are not supported."
        )
    raise errors.InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* "
        "value or the lower-case hex SHA-256 of the payload"
    )
