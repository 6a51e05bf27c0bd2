"""Incremental checksums for S3's flexible-checksum headers and Content-MD5.

`new_checksum` returns an object with the same digest S3 puts in
`x-amz-checksum-<algorithm>`: the big-endian digest, base64 encoded. The CRCs
keep a running integer (zlib / awscrt take the previous value), the hashes wrap
hashlib. `decode_digest` turns a header or trailer value into raw bytes and
rejects anything that is not base64 of the algorithm's digest size, so a
malformed value is told apart from a wrong one (InvalidDigest vs BadDigest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

from awscrt import checksums as crt

from s3gate import errors

ALGORITHMS: tuple[str, ...] = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

# Raw digest length of each algorithm, used to validate client-supplied values.
DIGEST_SIZES: dict[str, int] = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


class Checksum(Protocol):
    algorithm: str

    def update(self, data: bytes) -> None: ...

    def b64digest(self) -> str: ...


class _Crc:
    """A CRC kept as a running integer; `func(data, previous)` extends it."""

    __slots__ = ("_func", "_mask", "_size", "_value", "algorithm")

    def __init__(self, algorithm: str, func: Callable[[bytes, int], int], size: int) -> None:
        self.algorithm = algorithm
        self._func = func
        self._size = size
        self._mask = (1 << (8 * size)) - 1
        self._value = 0

    def update(self, data: bytes) -> None:
        if data:
            self._value = self._func(data, self._value) & self._mask

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Hash:
    __slots__ = ("_hash", "algorithm")

    def __init__(self, algorithm: str, name: str) -> None:
        self.algorithm = algorithm
        # usedforsecurity=False: SHA-1 here is an integrity checksum the client
        # chose, not a security decision, and FIPS builds would refuse it otherwise.
        self._hash = hashlib.new(name, usedforsecurity=False)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()

    def b64digest(self) -> str:
        return base64.b64encode(self._hash.digest()).decode("ascii")


def _zlib_crc32(data: bytes, previous: int) -> int:
    return zlib.crc32(data, previous)


def _crc32c(data: bytes, previous: int) -> int:
    return int(crt.crc32c(data, previous))


def _crc64nvme(data: bytes, previous: int) -> int:
    return int(crt.crc64nvme(data, previous))


def normalise_algorithm(algorithm: str) -> str:
    """The canonical upper-case name, or InvalidRequest if S3 has no such checksum."""
    name = algorithm.strip().upper()
    if name not in DIGEST_SIZES:
        raise errors.InvalidRequest(f"Unsupported checksum algorithm: {algorithm[:40]!r}")
    return name


def new_checksum(algorithm: str) -> Checksum:
    name = normalise_algorithm(algorithm)
    if name == "CRC32":
        return _Crc(name, _zlib_crc32, 4)
    if name == "CRC32C":
        return _Crc(name, _crc32c, 4)
    if name == "CRC64NVME":
        return _Crc(name, _crc64nvme, 8)
    return _Hash(name, "sha1" if name == "SHA1" else "sha256")


def decode_digest(algorithm: str, value: str) -> bytes:
    """Raw digest from a base64 header/trailer value; InvalidDigest if malformed."""
    name = normalise_algorithm(algorithm)
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest(
            f"Value for x-amz-checksum-{name.lower()} header is invalid."
        ) from None
    if len(raw) != DIGEST_SIZES[name]:
        raise errors.InvalidDigest(f"Value for x-amz-checksum-{name.lower()} header is invalid.")
    return raw
