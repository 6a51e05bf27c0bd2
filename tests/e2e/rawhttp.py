"""Hand-made S3 requests for negative tests: real SigV4 signatures from
botocore's signer, with the knobs a well-behaved SDK never turns (a wrong
payload hash, a skewed clock, a tampered header, a corrupted chunk)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from contextlib import nullcontext
from unittest import mock

import urllib3
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.harness import REGION, Gateway

_http = urllib3.PoolManager()


class _FixedPayloadAuth(S3SigV4Auth):
    def __init__(self, creds: Credentials, payload_hash: str) -> None:
        super().__init__(creds, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def _clock(at: dt.datetime | None):  # type: ignore[no-untyped-def]
    if at is None:
        return nullcontext()
    return mock.patch("botocore.auth.get_current_datetime", return_value=at)


def sign(
    gw: Gateway,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    identity: str = "admin",
    secret: str | None = None,
    payload_hash: str | None = None,
    at: dt.datetime | None = None,
) -> AWSRequest:
    who = gw.identities[identity]
    creds = Credentials(who.access_key_id, secret or who.secret_access_key)
    request = AWSRequest(
        method=method, url=gw.endpoint + path, data=body, headers=dict(headers or {})
    )
    digest = payload_hash or hashlib.sha256(body).hexdigest()
    with _clock(at):
        _FixedPayloadAuth(creds, digest).add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> urllib3.BaseHTTPResponse:
    prepared = request.prepare()
    return _http.request(
        prepared.method,
        prepared.url,
        body=prepared.body if body is None else body,
        headers=dict(prepared.headers),
        retries=False,
        preload_content=True,
    )


def presign(
    gw: Gateway,
    path: str,
    *,
    expires: int = 300,
    identity: str = "admin",
    at: dt.datetime | None = None,
) -> str:
    who = gw.identities[identity]
    request = AWSRequest(method="GET", url=gw.endpoint + path)
    with _clock(at):
        S3SigV4QueryAuth(
            Credentials(who.access_key_id, who.secret_access_key), "s3", REGION, expires=expires
        ).add_auth(request)
    url: str = request.url
    return url


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_chunked_put(
    gw: Gateway,
    path: str,
    data: bytes,
    *,
    chunk_size: int = 65536,
    identity: str = "admin",
    corrupt_chunk: int | None = None,
) -> urllib3.BaseHTTPResponse:
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, written from the AWS spec
    independently of the gateway's own code; optionally corrupt one chunk's
    signature."""
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
    }
    request = sign(
        gw,
        "PUT",
        path,
        headers=headers,
        identity=identity,
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    )
    who = gw.identities[identity]
    amz_date = request.headers["X-Amz-Date"]
    date = amz_date[:8]
    scope = f"{date}/{REGION}/s3/aws4_request"
    key = _hmac(("AWS4" + who.secret_access_key).encode(), date)
    for part in (REGION, "s3", "aws4_request"):
        key = _hmac(key, part)
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    empty = hashlib.sha256(b"").hexdigest()
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    out = []
    for index, piece in enumerate(pieces):
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                previous,
                empty,
                hashlib.sha256(piece).hexdigest(),
            ]
        )
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if index == corrupt_chunk:
            signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        out.append(f"{len(piece):x};chunk-signature={signature}\r\n".encode() + piece + b"\r\n")
    body = b"".join(out)
    prepared = request.prepare()
    hdrs = dict(prepared.headers)
    hdrs["Content-Length"] = str(len(body))
    return _http.request("PUT", prepared.url, body=body, headers=hdrs, retries=False)
