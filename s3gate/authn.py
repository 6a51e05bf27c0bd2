"""Who sent this request, and is its body what they signed?

Turns the raw HTTP request into a `Principal` and a `VerifiedBody`: SigV4
(header or presigned) for everything, plus legacy SigV2 presigned URLs for
downloads (see `sigv4.v2query` for why). No credentials → `AccessDenied`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from s3gate import errors
from s3gate.config import ServerSettings
from s3gate.identity.principal import Principal
from s3gate.identity.resolver import CredentialResolver
from s3gate.s3.operations import Operation, virtual_host_bucket
from s3gate.sigv4 import v2query
from s3gate.sigv4.auth import parse_request_auth
from s3gate.sigv4.body import VerifiedBody, open_body
from s3gate.sigv4.verify import verify_request


@dataclass(frozen=True)
class RawRequest:
    """The parts of an HTTP request the data path reads, decoded once."""

    method: str
    raw_path: bytes
    raw_query: bytes
    header_pairs: list[tuple[str, str]]
    headers: dict[str, str]
    query_pairs: list[tuple[str, str]]
    query: dict[str, str]

    @classmethod
    def from_scope(cls, scope: Mapping[str, object], method: str) -> RawRequest:
        raw_path = scope.get("raw_path") or str(scope["path"]).encode()
        raw_query = scope.get("query_string", b"")
        assert isinstance(raw_path, bytes) and isinstance(raw_query, bytes)
        raw_headers = scope["headers"]
        assert isinstance(raw_headers, list)
        pairs = [(k.decode("latin-1").lower(), _header_text(v)) for k, v in raw_headers]
        # Repeated headers join with a comma (RFC 9110), in one join per name:
        # joining by concatenation was quadratic in the number of repeats.
        grouped: dict[str, list[str]] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        headers = {name: ",".join(values) for name, values in grouped.items()}
        query_pairs = parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True)
        query = {k: v for k, v in reversed(query_pairs)}  # the first value wins
        return cls(method, raw_path, raw_query, pairs, headers, query_pairs, query)


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    body: VerifiedBody
    presigned: bool


class Authenticator:
    def __init__(
        self,
        credentials: CredentialResolver,
        server: ServerSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.credentials = credentials
        self.server = server
        self.clock = clock

    def authenticate(
        self, raw: RawRequest, op: Operation, stream: AsyncIterator[bytes]
    ) -> Authenticated:
        v2 = v2query.parse(raw.query_pairs)
        if v2 is not None and "authorization" not in raw.headers:
            principal = self._v2_presigned(raw, v2, op)
            return Authenticated(principal, open_body(None, None, raw.header_pairs, stream), True)
        auth = parse_request_auth(
            raw.header_pairs,
            raw.query_pairs,
            max_presign_expires=self.server.max_presign_expires_seconds,
        )
        if auth is None:
            raise errors.AccessDenied("Anonymous access is not allowed", resource=op.resource)
        credential = self.credentials.resolve(auth.access_key_id, auth.security_token)
        signing = verify_request(
            auth,
            credential.secret,
            method=raw.method,
            raw_path=raw.raw_path,
            raw_query=raw.raw_query,
            headers=raw.header_pairs,
            now=self.clock(),
            max_skew_seconds=self.server.max_clock_skew_seconds,
        )
        body = open_body(auth, signing, _body_headers(op, raw.header_pairs), stream)
        return Authenticated(credential.principal, body, auth.presigned)

    def _v2_presigned(self, raw: RawRequest, v2: v2query.V2Presign, op: Operation) -> Principal:
        credential = self.credentials.resolve(v2.access_key_id, v2.security_token)
        path = raw.raw_path.decode("latin-1")
        bucket = virtual_host_bucket(raw.headers.get("host", ""), self.server.virtual_host_domains)
        if op.bucket is not None and op.key is None and not bucket:
            # SigV2 signs a bucket-level resource as "/bucket/" (path style).
            path = f"/{op.bucket}/"
        v2query.verify(
            v2,
            credential.secret,
            method=raw.method,
            resource_path=f"/{bucket}{path}" if bucket else path,
            query=raw.query_pairs,
            headers=raw.header_pairs,
            now=self.clock(),
            max_expires_seconds=self.server.max_presign_expires_seconds,
        )
        return credential.principal


def _body_headers(op: Operation, pairs: Sequence[tuple[str, str]]) -> Sequence[tuple[str, str]]:
    """The headers that describe the request body. CompleteMultipartUpload's
    x-amz-checksum-* header is the checksum of the *object* being completed
    (a composite `…=-N` or a full-object value), not of its XML body; the
    gateway cannot verify it and does not forward it (docs/s3-compatibility.md)."""
    if op.name != "CompleteMultipartUpload":
        return pairs
    return [(n, v) for n, v in pairs if not n.startswith("x-amz-checksum-")]


def _header_text(value: bytes) -> str:
    """A header value as text. SDKs send non-ASCII values (user metadata) as
    UTF-8 and sign those bytes, so UTF-8 is read first: the canonical request
    then hashes exactly the bytes sent, and the value is stored as sent. Bytes
    that are not UTF-8 are read as Latin-1 (HTTP's historical charset)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")
