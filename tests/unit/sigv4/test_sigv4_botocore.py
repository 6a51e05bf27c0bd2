"""Round trips with the real botocore signer: what boto3 sends, we must accept.

Requests are produced by an unmodified boto3 client (captured just before they
would hit the network) or by botocore's S3SigV4Auth / S3SigV4QueryAuth directly,
then verified with our code exactly as the gateway would see them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from s3gate import errors
from s3gate.sigv4 import open_body, parse_request_auth
from tests.unit.sigv4.sigv4_helpers import (
    ACCESS_KEY,
    SECRET,
    Wire,
    authenticate,
    capture,
    drain,
    s3_client,
    source,
    split_every,
    split_random,
    wire_from_url,
)

KEYS = [
    "plain.txt",
    "with space.txt",
    "a+b=c.txt",
    "bang!quote'paren(star*)tilde~.txt",
    "ünïcödé/файл/文字.txt",
    "emoji-😀.bin",
    "dir/sub/../not-normalised/./x",
    "double//slash//",
    "100%25literal%percent",
    "semi;colon,comma:at@amp&dollar$hash#q?",
    "  leading and trailing  ",
]


@pytest.fixture(params=["http", "https"])
def endpoint(request: pytest.FixtureRequest) -> str:
    # http: botocore signs the payload hash and sends a checksum header.
    # https: botocore streams with STREAMING-UNSIGNED-PAYLOAD-TRAILER and a CRC32 trailer.
    return f"{request.param}://gw.test"


async def _accept(wire: Wire, pieces: list[bytes] | None = None) -> bytes:
    auth, signing = authenticate(wire)
    body = open_body(auth, signing, wire.headers, source(pieces or [wire.body]))
    data, error = await drain(body)
    assert error is None, error
    return data


@pytest.mark.parametrize("key", KEYS)
async def test_put_object(endpoint: str, key: str) -> None:
    payload = (key.encode() * 500)[:20000]
    wire = capture(s3_client(endpoint), "put_object", Bucket="bkt", Key=key, Body=payload)
    if endpoint.startswith("https"):
        assert wire.header("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert wire.header("x-amz-trailer") == "x-amz-checksum-crc32"
    else:
        assert wire.header("x-amz-content-sha256") == hashlib.sha256(payload).hexdigest()
    assert await _accept(wire) == payload
    assert await _accept(wire, split_random(wire.body, seed=len(key))) == payload


async def test_put_object_with_headers_to_canonicalise(endpoint: str) -> None:
    wire = capture(
        s3_client(endpoint),
        "put_object",
        Bucket="bkt",
        Key="k",
        Body=b"{}",
        Metadata={"note": "  spaced   out\tvalue  ", "Mixed-Case": "X"},
        ContentType="application/json;  charset=utf-8",
        ContentDisposition='attachment; filename="a  b.txt"',
        CacheControl="no-cache",
        Tagging="team=a&env=dev",
        ACL="private",
        ContentMD5=base64.b64encode(hashlib.md5(b"{}", usedforsecurity=False).digest()).decode(),
    )
    assert await _accept(wire) == b"{}"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("operation", ["get_object", "head_object", "delete_object"])
def test_key_operations(endpoint: str, key: str, operation: str) -> None:
    wire = capture(s3_client(endpoint), operation, Bucket="bkt", Key=key)
    authenticate(wire)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_objects_v2", {"Bucket": "bkt", "Prefix": "a/b", "Delimiter": "/"}),
        ("list_objects_v2", {"Bucket": "bkt", "Prefix": "ü +=&?", "StartAfter": ""}),
        ("list_objects", {"Bucket": "bkt", "Marker": "m", "MaxKeys": 2}),
        ("create_multipart_upload", {"Bucket": "bkt", "Key": "k y"}),
        ("list_multipart_uploads", {"Bucket": "bkt"}),
        ("get_object", {"Bucket": "bkt", "Key": "k", "Range": "bytes=0-9", "VersionId": "v+1/2"}),
        ("get_object", {"Bucket": "bkt", "Key": "k", "ResponseContentType": "text/plain; x=y"}),
        ("list_buckets", {}),
    ],
)
def test_query_operations(endpoint: str, operation: str, params: dict[str, Any]) -> None:
    authenticate(capture(s3_client(endpoint), operation, **params))


async def test_upload_part_and_delete_objects(endpoint: str) -> None:
    client = s3_client(endpoint)
    part = capture(
        client,
        "upload_part",
        Bucket="bkt",
        Key="k",
        UploadId="u/p+id=",
        PartNumber=3,
        Body=b"p" * 70000,
    )
    assert await _accept(part) == b"p" * 70000
    # DeleteObjects carries Content-MD5 or a checksum header over an XML body.
    delete = capture(
        client, "delete_objects", Bucket="bkt", Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]}
    )
    assert (await _accept(delete)).startswith(b"<Delete")


def _direct(url: str, *, token: str | None = None, body: bytes = b"") -> Wire:
    request = AWSRequest(method="PUT" if body else "GET", url=url, data=body)
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET, token), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return wire_from_url(prepared.method, prepared.url, prepared.headers.items(), body)


@pytest.mark.parametrize(
    "query",
    [
        "uploads",
        "list-type=2&prefix=a%2Fb",
        "a=&b=&c",
        "x=2&x=1&x=&x=10",
        "Zeta=1&alpha=2&Alpha=3",
        "encoded=%E2%9C%93%20%2B%3D%26",
        "tilde=~&dash=-_.",
        "acl",
        "partNumber=1&uploadId=abc%2Bdef%3D",
    ],
)
def test_direct_signer_queries(query: str) -> None:
    authenticate(_direct(f"http://gw.test/bkt/some%20key?{query}"))


@pytest.mark.parametrize(
    "path",
    [
        "/bkt/a=b@c:d,e",  # signed exactly as sent, without escaping
        "/bkt/dir%2Fkey",  # slash escaped in the key, and signed escaped
        "/bkt/%7euser",  # lower-case escape of an unreserved character
    ],
)
def test_paths_signed_as_sent_are_accepted(path: str) -> None:
    # botocore's S3 signer uses the path of the URL it is given verbatim, which is
    # how clients that under- or over-encode sign; the raw-path retry accepts them.
    wire = _direct(f"http://gw.test{path}")
    authenticate(wire)
    tampered = Wire(wire.method, wire.raw_path + b"x", wire.raw_query, wire.headers)
    with pytest.raises(errors.SignatureDoesNotMatch):
        authenticate(tampered)


async def test_session_token_header() -> None:
    wire = _direct("http://gw.test/bkt/k", token="session/token+value==", body=b"data")
    auth, _ = authenticate(wire)
    assert auth.security_token == "session/token+value=="
    assert "x-amz-security-token" in auth.signed_headers
    assert await _accept(wire) == b"data"


def test_wrong_secret_is_refused() -> None:
    wire = capture(s3_client("http://gw.test"), "get_object", Bucket="bkt", Key="k")
    with pytest.raises(errors.SignatureDoesNotMatch):
        authenticate(wire, secret=SECRET + "x")


@pytest.mark.parametrize("key", KEYS)
def test_presigned_get(key: str) -> None:
    # boto3 presigns with SigV4 only when asked to (see the next test).
    url = s3_client("https://gw.test", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": key}, ExpiresIn=600
    )
    auth, _ = authenticate(wire_from_url("GET", url, [], b""))
    assert auth.presigned and auth.expires == 600
    assert auth.payload_hash == "UNSIGNED-PAYLOAD"


def test_default_boto3_presign_is_sigv2_and_refused() -> None:
    # For backwards compatibility boto3's generate_presigned_url still produces SigV2
    # (AWSAccessKeyId/Signature/Expires) unless the client sets signature_version="s3v4".
    url = s3_client("https://gw.test").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}
    )
    wire = wire_from_url("GET", url, [], b"")
    assert "AWSAccessKeyId" in dict(wire.query)
    with pytest.raises(errors.InvalidRequest, match="AWS4-HMAC-SHA256"):
        parse_request_auth(wire.headers, wire.query)


async def test_presigned_put_with_token_and_extra_query() -> None:
    request = AWSRequest(
        method="PUT", url="https://gw.test/bkt/up%20load?response-content-type=text%2Fplain"
    )
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET, "tok/en+=="), "s3", "us-east-1", 900).add_auth(
        request
    )
    wire = wire_from_url("PUT", request.url, [], b"body bytes")
    auth, signing = authenticate(wire)
    assert auth.security_token == "tok/en+=="
    body = open_body(auth, signing, wire.headers, source([b"body ", b"bytes"]))
    assert await drain(body) == (b"body bytes", None)


def _chunked(payload: bytes, chunk_size: int, checksum: str | None = None) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(payload),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    body: bytes = wrapper.read()
    if checksum is not None:
        real = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big"))
        body = body.replace(real, checksum.encode())
    return body


def _trailer_wire(body: bytes, decoded_length: int) -> tuple[Wire, Any, Any]:
    client = s3_client("https://gw.test")
    wire = capture(client, "put_object", Bucket="bkt", Key="k", Body=b"x" * decoded_length)
    auth, signing = authenticate(wire)
    return Wire(wire.method, wire.raw_path, wire.raw_query, wire.headers, body), auth, signing


@pytest.mark.parametrize("chunk_size", [1, 100, 4096, 1024 * 1024])
async def test_botocore_aws_chunked_crc32_trailer(chunk_size: int) -> None:
    payload = bytes(range(256)) * 40
    wire, auth, signing = _trailer_wire(_chunked(payload, chunk_size), len(payload))
    body = open_body(auth, signing, wire.headers, source(split_every(wire.body, 777)))
    assert await drain(body) == (payload, None)
    assert body.sha256_hex == hashlib.sha256(payload).hexdigest()
    # MD5 is only computed to check a Content-MD5 (none here).
    assert body.md5_b64 is None


async def test_botocore_aws_chunked_wrong_trailer() -> None:
    payload = b"trace line\n" * 1000
    wire, auth, signing = _trailer_wire(_chunked(payload, 1000, checksum="AAAAAA=="), len(payload))
    body = open_body(auth, signing, wire.headers, source(split_every(wire.body, 512)))
    data, error = await drain(body)
    assert isinstance(error, errors.BadDigest)
    assert len(data) < len(payload)  # the tail was withheld


def test_parse_ignores_requests_without_credentials() -> None:
    assert parse_request_auth([("host", "gw.test")], [("prefix", "a")]) is None


def test_clock_is_checked_against_now() -> None:
    wire = capture(s3_client("http://gw.test"), "get_object", Bucket="bkt", Key="k")
    with pytest.raises(errors.RequestTimeTooSkewed):
        authenticate(wire, now=datetime(2001, 1, 1, tzinfo=UTC))
