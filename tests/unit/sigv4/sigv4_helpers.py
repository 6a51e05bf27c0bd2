"""Shared helpers for the sigv4 tests: request capture from real boto3, body feeding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from s3gate import errors
from s3gate.sigv4 import SigningContext, SigV4Auth, VerifiedBody, parse_request_auth, verify_request
from s3gate.sigv4.canonical import parse_query, signing_key

ACCESS_KEY = "AKIDGATEWAYTEST"
SECRET = "gw/Secret+Key=With/Odd+Chars0123456789"


@dataclass
class Wire:
    """One request as the gateway would see it on the wire."""

    method: str
    raw_path: bytes
    raw_query: bytes
    headers: list[tuple[str, str]]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> list[tuple[str, str]]:
        return decoded_query(self.raw_query)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name), None)

    def replace_header(self, name: str, value: str) -> Wire:
        headers = [(n, value if n == name else v) for n, v in self.headers]
        return Wire(self.method, self.raw_path, self.raw_query, headers, self.body)


def decoded_query(raw_query: bytes) -> list[tuple[str, str]]:
    return [(n.decode(), v.decode()) for n, v in parse_query(raw_query)]


def wire_from_url(method: str, url: str, headers: Iterable[tuple[Any, Any]], body: bytes) -> Wire:
    parts = urlsplit(url)
    out: list[tuple[str, str]] = []
    for name, value in headers:
        name = name.decode() if isinstance(name, bytes) else str(name)
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out.append((name.lower(), value))
    if not any(n == "host" for n, _ in out):
        out.append(("host", parts.netloc))  # urllib3 adds it on the wire
    return Wire(method, parts.path.encode(), parts.query.encode(), out, body)


class _Captured(Exception):
    pass


def s3_client(endpoint: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


def capture(client: Any, operation: str, **params: Any) -> Wire:
    """Run a real boto3 call and grab the signed request instead of sending it."""
    box: dict[str, Any] = {}

    def grab(request: Any, **_: Any) -> None:
        box["request"] = request
        raise _Captured

    client.meta.events.register("before-send.s3", grab)
    try:
        getattr(client, operation)(**params)
    except _Captured:
        pass
    finally:
        client.meta.events.unregister("before-send.s3", grab)
    request = box["request"]
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, bytes | bytearray):
        data = bytes(body)
    else:
        data = body.read()
    return wire_from_url(request.method, request.url, request.headers.items(), data)


def authenticate(
    wire: Wire, secret: str = SECRET, now: datetime | None = None
) -> tuple[SigV4Auth, SigningContext]:
    auth = parse_request_auth(wire.headers, wire.query)
    assert auth is not None
    signing = verify_request(
        auth,
        secret,
        method=wire.method,
        raw_path=wire.raw_path,
        raw_query=wire.raw_query,
        headers=wire.headers,
        now=now or datetime.now(UTC),
    )
    return auth, signing


async def source(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def split_random(data: bytes, seed: int, max_piece: int = 300) -> list[bytes]:
    rng = random.Random(seed)
    pieces, pos = [], 0
    while pos < len(data):
        n = rng.randint(0, max_piece)  # 0 gives the empty reads a socket can produce
        pieces.append(data[pos : pos + n])
        pos += n
    return pieces


async def drain(body: VerifiedBody) -> tuple[bytes, errors.S3Error | None]:
    """Collect what a streaming consumer would receive, and the error that stopped it."""
    got = bytearray()
    try:
        async for piece in body:
            got += piece
    except errors.S3Error as exc:
        return bytes(got), exc
    return bytes(got), None


def lower_headers(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n.lower(), v) for n, v in pairs]


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def fixed_signing(seed: str = "5" * 64) -> SigningContext:
    """A signing context for body tests that do not go through request verification."""
    date = T0.strftime("%Y%m%d")
    return SigningContext(
        key=signing_key(SECRET, date, "us-east-1", "s3"),
        scope=f"{date}/us-east-1/s3/aws4_request",
        amz_date=T0.strftime("%Y%m%dT%H%M%SZ"),
        seed_signature=seed,
    )


def sign_chunked(
    signing: SigningContext,
    chunks: Sequence[bytes],
    trailers: Sequence[tuple[str, str]] | None = None,
) -> bytes:
    """An aws-chunked body signed the way the AWS docs describe (independent of chunked.py)."""
    previous = signing.seed_signature
    out = bytearray()
    for data in [*chunks, b""]:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                signing.amz_date,
                signing.scope,
                previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            ]
        )
        previous = hmac.new(signing.key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data
        if data:
            out += b"\r\n"
    if trailers is not None:
        text = "".join(f"{name}:{value}\n" for name, value in trailers)
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                signing.amz_date,
                signing.scope,
                previous,
                hashlib.sha256(text.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(signing.key, sts.encode(), hashlib.sha256).hexdigest()
        for name, value in trailers:
            out += f"{name}:{value}\r\n".encode()
        out += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return bytes(out + b"\r\n")


def unsigned_chunked(
    chunks: Sequence[bytes], trailers: Sequence[tuple[str, str]] | None = None
) -> bytes:
    """The STREAMING-UNSIGNED-PAYLOAD-TRAILER framing botocore's AwsChunkedWrapper emits."""
    out = bytearray()
    for data in chunks:
        out += f"{len(data):x}\r\n".encode() + data + b"\r\n"
    out += b"0\r\n"
    for name, value in trailers or ():
        out += f"{name}:{value}\r\n".encode()
    return bytes(out + b"\r\n")


def body_auth(payload_hash: str, *, presigned: bool = False) -> SigV4Auth:
    """A parsed-auth record for body tests (the signature itself is not checked there)."""
    return SigV4Auth(
        access_key_id=ACCESS_KEY,
        date=T0.strftime("%Y%m%d"),
        region="us-east-1",
        service="s3",
        signed_headers=("host",),
        signature="5" * 64,
        amz_date=T0.strftime("%Y%m%dT%H%M%SZ"),
        request_time=T0,
        presigned=presigned,
        expires=3600 if presigned else None,
        security_token=None,
        payload_hash=payload_hash,
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
