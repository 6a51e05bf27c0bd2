"""Checksums match botocore's own implementations and S3's published values."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest
from botocore.httpchecksum import (
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)

from s3gate import errors
from s3gate.sigv4.checksums import ALGORITHMS, DIGEST_SIZES, decode_digest, new_checksum

BOTOCORE = {
    "CRC32": Crc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}
DATA = random.Random(7).randbytes(100_000)


def test_algorithms() -> None:
    assert ALGORITHMS == ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
    assert set(DIGEST_SIZES) == set(ALGORITHMS)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("piece", [1, 7, 4096, 100_000])
def test_matches_botocore_incrementally(algorithm: str, piece: int) -> None:
    reference = BOTOCORE[algorithm]()
    reference.update(DATA)
    ours = new_checksum(algorithm.lower())  # names are case-insensitive
    for i in range(0, len(DATA), piece):
        ours.update(DATA[i : i + piece])
    assert ours.algorithm == algorithm
    assert ours.b64digest() == reference.b64digest()
    assert len(base64.b64decode(ours.b64digest())) == DIGEST_SIZES[algorithm]


@pytest.mark.parametrize(
    ("algorithm", "data", "expected"),
    [
        ("CRC32", b"hello world", "DUoRhQ=="),  # what boto3 sent for this body
        ("CRC32C", b"a" * 66560, "sOO8/Q=="),  # the sigv4-streaming-trailers example
        # CRC-64/NVME check value for "123456789" is 0xAE8B14860A799888.
        ("CRC64NVME", b"123456789", base64.b64encode(bytes.fromhex("ae8b14860a799888")).decode()),
        ("SHA256", b"", base64.b64encode(hashlib.sha256(b"").digest()).decode()),
        ("CRC32", b"", "AAAAAA=="),
    ],
)
def test_known_values(algorithm: str, data: bytes, expected: str) -> None:
    checksum = new_checksum(algorithm)
    checksum.update(data)
    assert checksum.b64digest() == expected


def test_unknown_algorithm() -> None:
    with pytest.raises(errors.InvalidRequest):
        new_checksum("MD4")


@pytest.mark.parametrize("value", ["", "AAAA", "AAAAAA", "AAAAAA==x", "****"])
def test_decode_digest_rejects_malformed(value: str) -> None:
    with pytest.raises(errors.InvalidDigest):
        decode_digest("crc32", value)


def test_decode_digest() -> None:
    assert decode_digest("CRC32", " AAAAAQ== ") == b"\0\0\0\1"
