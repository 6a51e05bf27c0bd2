"""The aws-chunked decoder: same output whatever the split points, bounded state."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from s3gate import errors
from s3gate.sigv4 import ChunkedDecoder, open_body
from tests.unit.sigv4.sigv4_helpers import (
    b64,
    body_auth,
    drain,
    fixed_signing,
    sign_chunked,
    source,
    split_every,
    split_random,
    unsigned_chunked,
)

PAYLOAD = hashlib.sha256(b"seed").digest() * 40  # 1280 bytes, not a repeating byte
CHUNKS = [PAYLOAD[:500], PAYLOAD[500:1000], PAYLOAD[1000:1001], PAYLOAD[1001:]]
CRC = b64(zlib.crc32(PAYLOAD).to_bytes(4, "big"))
SIGNING = fixed_signing()

# (signed, trailer expected, raw body, expected trailers)
BODIES = {
    "signed": (True, False, sign_chunked(SIGNING, CHUNKS), {}),
    "signed-trailer": (
        True,
        True,
        sign_chunked(SIGNING, CHUNKS, [("x-amz-checksum-crc32", CRC)]),
        {"x-amz-checksum-crc32": CRC},
    ),
    "unsigned-trailer": (
        False,
        True,
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", CRC)]),
        {"x-amz-checksum-crc32": CRC},
    ),
    "unsigned-no-trailer": (False, True, unsigned_chunked(CHUNKS), {}),
    "empty-signed": (True, False, sign_chunked(SIGNING, []), {}),
}


def _decode(signed: bool, trailer: bool, pieces: list[bytes]) -> tuple[bytes, dict[str, str]]:
    decoder = ChunkedDecoder(signing=SIGNING if signed else None, trailer_expected=trailer)
    out = bytearray()
    for piece in pieces:
        for data in decoder.feed(piece):
            out += data
    assert decoder.done
    return bytes(out), decoder.finish()


@pytest.mark.parametrize("name", list(BODIES))
def test_every_split_size(name: str) -> None:
    signed, trailer, raw, trailers = BODIES[name]
    expected = b"" if name.startswith("empty") else PAYLOAD
    for size in range(1, 301):
        assert _decode(signed, trailer, split_every(raw, size)) == (expected, trailers), size
    assert _decode(signed, trailer, [raw]) == (expected, trailers)


@pytest.mark.parametrize("name", list(BODIES))
@pytest.mark.parametrize("seed", range(20))
def test_random_splits(name: str, seed: int) -> None:
    signed, trailer, raw, trailers = BODIES[name]
    expected = b"" if name.startswith("empty") else PAYLOAD
    assert _decode(signed, trailer, split_random(raw, seed)) == (expected, trailers)


@pytest.mark.parametrize("seed", range(10))
async def test_random_splits_through_the_body(seed: int) -> None:
    raw = sign_chunked(SIGNING, CHUNKS, [("x-amz-checksum-crc32", CRC)])
    headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(len(PAYLOAD))),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]
    auth = body_auth("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
    body = open_body(auth, SIGNING, headers, source(split_random(raw, seed, max_piece=50)))
    assert await drain(body) == (PAYLOAD, None)


async def test_last_piece_is_withheld_until_the_end() -> None:
    # A consumer that stops early never sees the final piece of a body whose
    # trailer has not arrived yet.
    raw = unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", CRC)])
    headers = [
        ("x-amz-decoded-content-length", str(len(PAYLOAD))),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]
    body = open_body(
        body_auth("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), None, headers, source([raw[:-10]])
    )
    received = bytearray()
    with pytest.raises(errors.IncompleteBody):
        async for piece in body:
            received += piece
    assert len(received) < len(PAYLOAD)
    assert PAYLOAD.startswith(bytes(received))


def test_payload_passes_through_without_copy() -> None:
    decoder = ChunkedDecoder(signing=None, trailer_expected=False)
    assert decoder.feed(b"10000\r\n") == []
    big = bytes(40000)
    pieces = decoder.feed(big)
    assert len(pieces) == 1 and pieces[0] is big


def test_unsigned_chunk_extensions_are_ignored() -> None:
    raw = b"5;name=value\r\nhello\r\n0\r\n\r\n"
    assert _decode(False, False, [raw]) == (b"hello", {})


def test_trailer_values_are_trimmed_and_names_lowered() -> None:
    raw = b"0\r\nX-Amz-Checksum-CRC32 :  AAAAAA==  \r\n\r\n"
    assert _decode(False, True, [raw]) == (b"", {"x-amz-checksum-crc32": "AAAAAA=="})


@pytest.mark.parametrize(
    ("raw", "trailer", "error"),
    [
        (b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", False, errors.InvalidRequest),
        (b"0\r\nno-colon\r\n\r\n", True, errors.InvalidRequest),
        (b"0\r\nx-a:1\r\nx-a:2\r\n\r\n", True, errors.InvalidRequest),
        (b"0\r\nx-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n", True, errors.InvalidRequest),
        (b"-5\r\nhello\r\n0\r\n\r\n", False, errors.InvalidRequest),
        (b" 5\r\nhello\r\n0\r\n\r\n", False, errors.InvalidRequest),
        (b"\r\n", False, errors.InvalidRequest),
        (b"5\r\nhello\r\n0\r\n\r\nextra", False, errors.InvalidRequest),
    ],
)
def test_framing_errors(raw: bytes, trailer: bool, error: type[errors.S3Error]) -> None:
    decoder = ChunkedDecoder(signing=None, trailer_expected=trailer)
    with pytest.raises(error):
        for size in (1,):
            for piece in split_every(raw, size):
                decoder.feed(piece)
            decoder.finish()


def test_limits() -> None:
    decoder = ChunkedDecoder(signing=None, trailer_expected=False, max_chunk_size=10)
    with pytest.raises(errors.InvalidRequest, match="exceeds"):
        decoder.feed(b"b\r\n")
    decoder = ChunkedDecoder(signing=None, trailer_expected=False)
    decoder.feed(b"1" * 4000)  # still a possible line
    with pytest.raises(errors.InvalidRequest, match="too long"):
        decoder.feed(b"1" * 200)


def test_finish_before_end_is_incomplete() -> None:
    decoder = ChunkedDecoder(signing=None, trailer_expected=False)
    decoder.feed(b"5\r\nhel")
    assert not decoder.done
    with pytest.raises(errors.IncompleteBody):
        decoder.finish()
