"""Running digests of a streamed body, computed off the event loop.

Every byte the gateway relays is hashed at least once (SHA-256 for SigV4 and
uploads' audit events, BLAKE3 or SHA-256 for a streamed response's, plus a
CRC or MD5 when the client sent one). On the event loop that work serialises
with the relay itself: a 64 MiB GET spent ~45 ms hashing and ~50 ms
relaying, one after the other. hashlib, blake3 (and awscrt's CRCs) release
the GIL on large inputs, so a worker thread can hash batch N while the loop
relays the pieces after it.

Bounds: at most one batch is in flight per stream and one is being gathered,
so at most ~2 x BATCH bytes are kept alive for hashing; order is preserved
because a batch starts only after the previous one has finished. Bodies that
never fill a batch are hashed on the loop at the end: a thread hop costs more
than hashing a few hundred kilobytes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

BATCH = 4 * 1024 * 1024

# A process-wide resource, like the loop's default executor, but kept apart
# from it so that hashing never queues behind (or in front of) audit fsyncs.
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="s3gate-digest"
        )
    return _executor


class Updatable(Protocol):
    def update(self, data: bytes, /) -> object: ...


class Digest(Updatable, Protocol):
    """A running cryptographic digest (hashlib's or blake3's)."""

    def hexdigest(self) -> str: ...


class OffloadedDigests:
    """Feeds every piece, in order, to each of `targets`."""

    __slots__ = ("_gathered", "_gathered_len", "_inflight", "_targets")

    def __init__(self, targets: Sequence[Updatable]) -> None:
        self._targets = tuple(targets)
        self._gathered: list[bytes] = []
        self._gathered_len = 0
        self._inflight: asyncio.Future[None] | None = None

    async def feed(self, piece: bytes) -> None:
        """Queue `piece`; waits only when the previous batch is still hashing
        and a new one is full (so memory stays bounded)."""
        self._gathered.append(piece)
        self._gathered_len += len(piece)
        if self._gathered_len >= BATCH:
            if self._inflight is not None:
                await self._inflight
            batch = self._take()
            self._inflight = asyncio.get_running_loop().run_in_executor(_pool(), self._hash, batch)

    async def finish(self) -> None:
        """Returns once every piece fed so far has reached every target."""
        if self._inflight is not None:
            await self._inflight
            self._inflight = None
        self._hash(self._take())

    def _take(self) -> list[bytes]:
        batch, self._gathered, self._gathered_len = self._gathered, [], 0
        return batch

    def _hash(self, batch: list[bytes]) -> None:
        for target in self._targets:
            for piece in batch:
                target.update(piece)
