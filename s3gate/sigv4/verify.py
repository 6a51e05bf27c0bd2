"""Check a parsed SigV4 request against the caller's secret.

Order of checks: time window first (cheap, and needs no secret), then that
every `x-amz-*` header is covered by the signature (otherwise a man in the
middle could add e.g. `x-amz-copy-source` or `x-amz-acl`), then the signature
itself. The result is the signing context the aws-chunked decoder needs to
verify chunk and trailer signatures chained from this one.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from s3gate import errors
from s3gate.s3.dates import format_http_date, format_iso8601
from s3gate.sigv4.auth import SigV4Auth
from s3gate.sigv4.canonical import (
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    hmac_hex,
    signing_key,
    string_to_sign,
)


@dataclass(frozen=True)
class SigningContext:
    key: bytes
    scope: str
    amz_date: str
    seed_signature: str

    def __repr__(self) -> str:
        # Keep the derived key out of logs and tracebacks.
        return f"SigningContext(scope={self.scope!r}, amz_date={self.amz_date!r})"


def verify_request(
    auth: SigV4Auth,
    secret: str,
    *,
    method: str,
    raw_path: bytes,
    raw_query: bytes,
    headers: Sequence[tuple[str, str]],
    now: datetime,
    max_skew_seconds: int = 900,
) -> SigningContext:
    if now.tzinfo is None:
        raise TypeError("now must be timezone-aware")
    _check_time(auth, now, max_skew_seconds)
    _check_unsigned_headers(auth, headers)

    key = signing_key(secret, auth.date, auth.region, auth.service)
    query = canonical_query(raw_query, drop="X-Amz-Signature" if auth.presigned else None)
    headers_block = canonical_headers(headers, auth.signed_headers)
    uri = canonical_uri(raw_path)
    if not _matches(auth, key, method, uri, query, headers_block):
        # Some clients sign the path exactly as they send it, under-encoded
        # (e.g. a raw `=` or `@`); accept that form too, but only as a second try.
        raw = _raw_uri(raw_path)
        if raw is None or raw == uri or not _matches(auth, key, method, raw, query, headers_block):
            raise errors.SignatureDoesNotMatch()
    return SigningContext(
        key=key, scope=auth.scope, amz_date=auth.amz_date, seed_signature=auth.signature
    )


def _matches(
    auth: SigV4Auth, key: bytes, method: str, uri: str, query: str, headers_block: str
) -> bool:
    creq = canonical_request(
        method, uri, query, headers_block, auth.signed_headers, auth.payload_hash
    )
    expected = hmac_hex(key, string_to_sign(auth.amz_date, auth.scope, creq))
    return hmac.compare_digest(expected, auth.signature)


def _raw_uri(raw_path: bytes) -> str | None:
    if not raw_path:
        return None
    try:
        return raw_path.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_time(auth: SigV4Auth, now: datetime, max_skew: int) -> None:
    skew = timedelta(seconds=max_skew)
    if not auth.presigned:
        if abs(now - auth.request_time) > skew:
            raise errors.RequestTimeTooSkewed(
                extra={
                    "RequestTime": format_http_date(auth.request_time),
                    "ServerTime": format_iso8601(now),
                    "MaxAllowedSkewMilliseconds": str(max_skew * 1000),
                }
            )
        return
    if auth.request_time > now + skew:
        raise errors.AccessDenied("Request is not valid yet")
    expires = auth.expires or 0
    if now > auth.request_time + timedelta(seconds=expires):
        raise errors.AccessDenied(
            "Request has expired",
            extra={
                "X-Amz-Expires": str(expires),
                "Expires": format_iso8601(auth.request_time + timedelta(seconds=expires)),
                "ServerTime": format_iso8601(now),
            },
        )


def _check_unsigned_headers(auth: SigV4Auth, headers: Sequence[tuple[str, str]]) -> None:
    signed = auth.signed_headers
    unsigned = {name for name, _ in headers if name.startswith("x-amz-") and name not in signed}
    if unsigned:
        raise errors.AccessDenied(
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": ", ".join(sorted(unsigned))},
        )
