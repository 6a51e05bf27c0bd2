"""The worked examples in the Amazon S3 API reference, end to end.

Sources (all use AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
20130524T000000Z, us-east-1, s3):
- sig-v4-header-based-auth.html: GET Object (Range), PUT Object, GET Bucket
  Lifecycle, GET Bucket (List Objects).
- sigv4-query-string-auth.html: the presigned GET of test.txt.
- sigv4-streaming.html: the 66560-byte chunked PUT (64 KiB chunks).
- sigv4-streaming-trailers.html: the same PUT with a signed CRC32C trailer. (The
  page states Content-Length 66824, which is the non-trailer body's length; the
  body it shows is 66946 bytes.)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from s3gate import errors
from s3gate.sigv4 import ChunkedDecoder, VerifiedBody, open_body, parse_request_auth, verify_request
from s3gate.sigv4.canonical import (
    EMPTY_SHA256,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    string_to_sign,
)
from tests.unit.sigv4.sigv4_helpers import drain, source, split_every

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
SCOPE = "20130524/us-east-1/s3/aws4_request"
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
HOST = "examplebucket.s3.amazonaws.com"
PUT_HASH = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()

HEADER_EXAMPLES = [
    pytest.param(
        "GET",
        b"/test.txt",
        b"",
        [
            ("host", HOST),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ],
        "host;range;x-amz-content-sha256;x-amz-date",
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n"
        f"host;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}",
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="get-object",
    ),
    pytest.param(
        "PUT",
        b"/test$file.text",
        b"",
        [
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", HOST),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", PUT_HASH),
        ],
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
        f"host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:{PUT_HASH}\n"
        "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        f"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n{PUT_HASH}",
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="put-object",
    ),
    pytest.param(
        "GET",
        b"/",
        b"lifecycle",
        [
            ("host", HOST),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
        "host;x-amz-content-sha256;x-amz-date",
        "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n"
        f"host;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}",
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="get-bucket-lifecycle",
    ),
    pytest.param(
        "GET",
        b"/",
        b"prefix=J&max-keys=2",
        [
            ("host", HOST),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
        "host;x-amz-content-sha256;x-amz-date",
        "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n"
        f"host;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}",
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="list-objects",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "signed", "creq", "creq_hash", "signature"),
    HEADER_EXAMPLES,
)
def test_header_examples(
    method: str,
    path: bytes,
    query: bytes,
    headers: list[tuple[str, str]],
    signed: str,
    creq: str,
    creq_hash: str,
    signature: str,
) -> None:
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders={signed},Signature={signature}"
    )
    all_headers = [*headers, ("authorization", authorization)]
    auth = parse_request_auth(all_headers, [])
    assert auth is not None
    payload = dict(headers)["x-amz-content-sha256"]
    mine = canonical_request(
        method,
        canonical_uri(path),
        canonical_query(query),
        canonical_headers(headers, auth.signed_headers),
        auth.signed_headers,
        payload,
    )
    assert mine == creq
    assert string_to_sign(auth.amz_date, auth.scope, mine) == (
        f"AWS4-HMAC-SHA256\n20130524T000000Z\n{SCOPE}\n{creq_hash}"
    )
    context = verify_request(
        auth, SECRET, method=method, raw_path=path, raw_query=query, headers=all_headers, now=WHEN
    )
    assert context.seed_signature == signature


PRESIGNED_QUERY = (
    b"X-Amz-Algorithm=AWS4-HMAC-SHA256"
    b"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    b"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    b"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
PRESIGNED_PARAMS = [
    ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
    ("X-Amz-Credential", CREDENTIAL),
    ("X-Amz-Date", "20130524T000000Z"),
    ("X-Amz-Expires", "86400"),
    ("X-Amz-SignedHeaders", "host"),
    ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
]


def test_presigned_example() -> None:
    headers = [("host", HOST)]
    auth = parse_request_auth(headers, PRESIGNED_PARAMS)
    assert auth is not None and auth.presigned and auth.expires == 86400
    assert auth.payload_hash == "UNSIGNED-PAYLOAD"
    query = canonical_query(PRESIGNED_QUERY, drop="X-Amz-Signature")
    creq = canonical_request(
        "GET",
        "/test.txt",
        query,
        canonical_headers(headers, ("host",)),
        ("host",),
        "UNSIGNED-PAYLOAD",
    )
    assert string_to_sign(auth.amz_date, auth.scope, creq).endswith(
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    )
    for now in (WHEN, WHEN + timedelta(hours=23, minutes=59)):
        verify_request(
            auth,
            SECRET,
            method="GET",
            raw_path=b"/test.txt",
            raw_query=PRESIGNED_QUERY,
            headers=headers,
            now=now,
        )


CHUNK_HEADERS = [
    ("host", "s3.amazonaws.com"),
    ("x-amz-date", "20130524T000000Z"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    ("content-encoding", "aws-chunked"),
    ("x-amz-decoded-content-length", "66560"),
    ("content-length", "66824"),
    (
        "authorization",
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders=content-encoding;content-length;"
        "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    ),
]
CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
TRAILER_HEADERS = [
    ("host", "s3.amazonaws.com"),
    ("x-amz-date", "20130524T000000Z"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
    ("content-encoding", "aws-chunked"),
    ("x-amz-decoded-content-length", "66560"),
    ("x-amz-trailer", "x-amz-checksum-crc32c"),
    (
        "authorization",
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders=content-encoding;host;"
        "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;"
        "x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    ),
]
TRAILER_SIGNATURES = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
TRAILER_SECTION = (
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
)
PAYLOAD = b"a" * 66560


def chunked_body(signatures: tuple[str, str, str], trailer: bytes = b"") -> bytes:
    return (
        f"10000;chunk-signature={signatures[0]}\r\n".encode()
        + PAYLOAD[:65536]
        + f"\r\n400;chunk-signature={signatures[1]}\r\n".encode()
        + PAYLOAD[65536:]
        + f"\r\n0;chunk-signature={signatures[2]}\r\n".encode()
        + trailer
        + b"\r\n"
    )


def _open(headers: list[tuple[str, str]], pieces: list[bytes]) -> VerifiedBody:
    auth = parse_request_auth(headers, [])
    assert auth is not None
    signing = verify_request(
        auth,
        SECRET,
        method="PUT",
        raw_path=b"/examplebucket/chunkObject.txt",
        raw_query=b"",
        headers=headers,
        now=WHEN,
    )
    return open_body(auth, signing, headers, source(pieces))


def test_chunked_seed_canonical_request() -> None:
    auth = parse_request_auth(CHUNK_HEADERS, [])
    assert auth is not None
    creq = canonical_request(
        "PUT",
        canonical_uri(b"/examplebucket/chunkObject.txt"),
        "",
        canonical_headers(CHUNK_HEADERS, auth.signed_headers),
        auth.signed_headers,
        auth.payload_hash,
    )
    assert string_to_sign(auth.amz_date, auth.scope, creq).endswith(
        "cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455"
    )


@pytest.mark.parametrize("split", [1, 7, 85, 86, 87, 1000, 65536, 66824])
async def test_chunked_example(split: int) -> None:
    body = chunked_body(CHUNK_SIGNATURES)
    assert len(body) == 66824  # the documented Content-Length
    verified = _open(CHUNK_HEADERS, split_every(body, split))
    data, error = await drain(verified)
    assert error is None and data == PAYLOAD
    assert verified.length == verified.bytes_received == 66560
    assert verified.sha256_hex == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_chunked_example_wrong_chunk_signature(index: int) -> None:
    signatures = list(CHUNK_SIGNATURES)
    signatures[index] = signatures[index][::-1]
    verified = _open(CHUNK_HEADERS, split_every(chunked_body(tuple(signatures)), 4096))  # type: ignore[arg-type]
    data, error = await drain(verified)
    assert isinstance(error, errors.SignatureDoesNotMatch)
    assert len(data) < len(PAYLOAD)


@pytest.mark.parametrize("split", [1, 13, 4096, 66946])
async def test_trailer_example(split: int) -> None:
    body = chunked_body(TRAILER_SIGNATURES, TRAILER_SECTION)
    assert len(body) == 66946
    verified = _open(TRAILER_HEADERS, split_every(body, split))
    data, error = await drain(verified)
    assert error is None and data == PAYLOAD


@pytest.mark.parametrize(
    ("trailer", "expected"),
    [
        # Checksum changed but signature kept: the trailer signature catches it.
        (TRAILER_SECTION.replace(b"sOO8/Q==", b"AAAAAA=="), errors.SignatureDoesNotMatch),
        # Signature line missing entirely.
        (b"x-amz-checksum-crc32c:sOO8/Q==\r\n", errors.SignatureDoesNotMatch),
        # Declared trailer absent (signature then covers an empty trailer set and fails).
        (TRAILER_SECTION.split(b"\r\n", 1)[1], errors.SignatureDoesNotMatch),
    ],
)
async def test_trailer_example_tampered(trailer: bytes, expected: type[errors.S3Error]) -> None:
    verified = _open(TRAILER_HEADERS, [chunked_body(TRAILER_SIGNATURES, trailer)])
    data, error = await drain(verified)
    assert isinstance(error, expected)
    assert len(data) < len(PAYLOAD)


@pytest.mark.parametrize(
    ("headers", "signatures", "trailer"),
    [
        (CHUNK_HEADERS, CHUNK_SIGNATURES, b""),
        (TRAILER_HEADERS, TRAILER_SIGNATURES, TRAILER_SECTION),
    ],
    ids=["chunked", "trailer"],
)
def test_documented_bodies_in_every_split_size(
    headers: list[tuple[str, str]], signatures: tuple[str, str, str], trailer: bytes
) -> None:
    auth = parse_request_auth(headers, [])
    assert auth is not None
    signing = verify_request(
        auth,
        SECRET,
        method="PUT",
        raw_path=b"/examplebucket/chunkObject.txt",
        raw_query=b"",
        headers=headers,
        now=WHEN,
    )
    raw = chunked_body(signatures, trailer)
    for size in range(1, 301):
        decoder = ChunkedDecoder(signing=signing, trailer_expected=bool(trailer))
        out = bytearray()
        for piece in split_every(raw, size):
            for data in decoder.feed(piece):
                out += data
        assert out == PAYLOAD, size
        assert decoder.finish() == ({"x-amz-checksum-crc32c": "sOO8/Q=="} if trailer else {})
