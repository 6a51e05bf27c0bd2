"""The checksum a CreateMultipartUpload asks for (handlers.mpchecksums)."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.handlers import mpchecksums


@pytest.mark.parametrize(
    ("headers", "chosen"),
    [
        ({}, {}),
        ({"x-amz-checksum-algorithm": "crc32"}, ("CRC32", "COMPOSITE")),
        ({"x-amz-checksum-algorithm": "CRC32C"}, ("CRC32C", "COMPOSITE")),
        ({"x-amz-checksum-algorithm": "SHA256"}, ("SHA256", "COMPOSITE")),
        ({"x-amz-checksum-algorithm": "CRC64NVME"}, ("CRC64NVME", "FULL_OBJECT")),
        (
            {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "full_object"},
            ("CRC32", "FULL_OBJECT"),
        ),
        (
            {"x-amz-checksum-algorithm": "SHA1", "x-amz-checksum-type": "COMPOSITE"},
            ("SHA1", "COMPOSITE"),
        ),
    ],
)
def test_choices(headers: dict[str, str], chosen: object) -> None:
    got = mpchecksums.choice(headers)
    if chosen == {}:
        assert got == {}
    else:
        assert (got["x-amz-checksum-algorithm"], got["x-amz-checksum-type"]) == chosen


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-type": "COMPOSITE"},
        {"x-amz-checksum-algorithm": "MD5"},
        {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "PARTIAL"},
        {"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-type": "FULL_OBJECT"},
        {"x-amz-checksum-algorithm": "SHA1", "x-amz-checksum-type": "FULL_OBJECT"},
        {"x-amz-checksum-algorithm": "CRC64NVME", "x-amz-checksum-type": "COMPOSITE"},
    ],
)
def test_what_s3_refuses(headers: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidRequest):
        mpchecksums.choice(headers)


@pytest.mark.parametrize(
    ("metadata", "algorithm"),
    [
        ({}, "CRC64NVME"),
        ({mpchecksums.STAGED_ALGORITHM: "CRC32"}, "CRC32"),
        ({mpchecksums.STAGED_ALGORITHM: "bogus"}, "CRC64NVME"),
    ],
)
def test_the_staged_algorithm_is_taken_out(metadata: dict[str, str], algorithm: str) -> None:
    stored = {**metadata, "x-amz-meta-a": "b"}
    assert mpchecksums.staged_algorithm(stored) == algorithm
    assert stored == {"x-amz-meta-a": "b"}
