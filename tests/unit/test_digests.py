"""OffloadedDigests: the same digests as hashing inline, in order, bounded."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from s3gate import digests
from s3gate.digests import BATCH, OffloadedDigests


class _Crc32:
    """Order-sensitive, so a reordered batch would give a different value."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)


def _pieces(sizes: list[int]) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest()[:1] * size for i, size in enumerate(sizes)]


@pytest.mark.parametrize(
    "sizes",
    [
        [],  # nothing fed
        [0],
        [4096],  # below one batch: hashed at finish
        [BATCH],  # exactly one batch
        [BATCH - 1, 1, 1],  # crossing the boundary by one byte
        [256 * 1024] * 13,  # several batches, one in flight while the next gathers
        [3 * BATCH + 17],  # one piece larger than a batch
        [1, 70_000, 5, BATCH, 2, 999_999, 1],  # ragged
    ],
)
async def test_same_digests_as_inline_hashing(sizes: list[int]) -> None:
    pieces = _pieces(sizes)
    sha, md5, crc = hashlib.sha256(), hashlib.md5(usedforsecurity=False), _Crc32()
    hashing = OffloadedDigests((sha, md5, crc))
    for piece in pieces:
        await hashing.feed(piece)
    await hashing.finish()
    whole = b"".join(pieces)
    assert sha.hexdigest() == hashlib.sha256(whole).hexdigest()
    assert md5.hexdigest() == hashlib.md5(whole, usedforsecurity=False).hexdigest()
    assert crc.value == zlib.crc32(whole)


async def test_small_bodies_never_leave_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool() -> None:
        raise AssertionError("a body smaller than one batch must be hashed inline")

    monkeypatch.setattr(digests, "_pool", no_pool)
    sha = hashlib.sha256()
    hashing = OffloadedDigests((sha,))
    await hashing.feed(b"a" * (BATCH - 1))
    await hashing.finish()
    assert sha.hexdigest() == hashlib.sha256(b"a" * (BATCH - 1)).hexdigest()


async def test_memory_is_bounded_to_two_batches() -> None:
    held: list[int] = []

    class Slow:
        def update(self, data: bytes, /) -> None:
            held.append(len(data))

    hashing = OffloadedDigests((Slow(),))
    for _ in range(40):
        await hashing.feed(b"x" * (256 * 1024))
        # What is gathered never exceeds one batch plus the piece just fed.
        assert hashing._gathered_len < BATCH + 256 * 1024
    await hashing.finish()
    assert sum(held) == 40 * 256 * 1024


async def test_finish_can_be_called_again() -> None:
    sha = hashlib.sha256()
    hashing = OffloadedDigests((sha,))
    await hashing.feed(b"x" * (BATCH + 1))
    await hashing.finish()
    await hashing.finish()
    assert sha.hexdigest() == hashlib.sha256(b"x" * (BATCH + 1)).hexdigest()
