"""`PooledMasker`: the `Masker` interface (`transform`, `summary`) with the
engine running in pool workers, so the event loop only moves bytes.

One object is one run on one worker (its decoding state lives there), fed
at most `WINDOW` input bytes ahead of the output that came back
(backpressure, flat memory). When the body is JSONL with no content coding
and no other text encoding than plain UTF-8 — what the worker itself finds
after the body's head (`MaskRun.plain_jsonl`) — the rest of the body is cut
after a newline into windows of about `WINDOW` bytes that any worker masks
(`WindowRun`): at most two windows per worker are in flight, and their
output is taken back in input order, so one large object uses every worker
and memory stays bounded by `WINDOW` times the workers.

Errors cross intact, the first in input order wins (as in one run). A
`hold` anywhere is raised after the last byte, with the whole (masked)
output produced first, as the inline engine does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from s3gate import errors
from s3gate.masking import wire
from s3gate.masking.pool import MaskingPool, WorkerGone, _Worker
from s3gate.transform.content import SNIFF_BYTES, declared
from s3gate.transform.engine import Masker
from s3gate.transform.errors import MaskingHeld, MaskLimitExceeded
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary

WINDOW = 1024 * 1024
# The head one run sees before the pool decides whether to cut windows: more
# than the engine needs to decide a body's form (`SNIFF_BYTES`).
HEAD = max(WINDOW, 2 * SNIFF_BYTES)
Message = tuple[object, ...]


class MaskerFactory(Protocol):
    """Makes the masker of one request: pooled when the pool runs, else inline."""

    def __call__(
        self,
        profiles: Sequence[Profile],
        *,
        content_type: str | None,
        content_encoding: str | None,
        key: str,
    ) -> Masker | PooledMasker: ...


@dataclass
class _Job:
    """One piece of work in flight: its worker, run id and reply queue."""

    worker: _Worker
    rid: int
    queue: asyncio.Queue[Message]


class PooledMasker:
    def __init__(
        self,
        pool: MaskingPool,
        profiles: Sequence[Profile],
        *,
        content_type: str | None,
        content_encoding: str | None,
        key: str,
        limits: Limits,
    ) -> None:
        self._pool = pool
        self._profiles = list(profiles)
        self._open = (content_type, content_encoding, key, limits)
        self._limits = limits
        names = tuple(p.name for p in sorted(self._profiles, key=lambda p: p.name))
        self.summary = MaskSummary(profiles=names)
        info = declared(content_type, content_encoding, key)
        # Only a body declared JSONL, with no coding and no charset, may be
        # cut at all; the worker still checks what the head really is.
        self._may_cut = (
            pool.size > 1
            and info.kind == "jsonl"
            and not info.codings
            and not info.unsupported
            and info.charset is None
        )
        self._jobs: list[_Job] = []
        self._held: set[str] = set()

    async def transform(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            pieces = _cut(chunks, self._limits.max_record_bytes) if self._may_cut else _flat(chunks)
            main = await self._open_run()
            async for out in self._head_then_rest(main, pieces):
                yield out
            if self._held:
                self.summary.held = tuple(sorted(self._held))
                raise MaskingHeld(self._held)
            self.summary.complete = True
        finally:
            for job in self._jobs:  # abandoned or failed: workers drop the state
                job.worker.runs.pop(job.rid, None)
                if job.worker.alive:
                    with contextlib.suppress(WorkerGone):
                        await job.worker.send((wire.ABORT, job.rid))
            self._jobs.clear()

    async def _head_then_rest(
        self, main: _Job, pieces: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        pending: deque[int] = deque()
        inflight = 0
        seen = 0
        async for piece in pieces:
            await main.worker.send((wire.FEED, main.rid, piece))
            pending.append(len(piece))
            inflight += len(piece)
            seen += len(piece)
            while inflight > WINDOW:
                out = self._data(await main.queue.get(), wire.OUT)
                inflight -= pending.popleft()
                if out:
                    yield out
            if self._may_cut and seen >= HEAD:
                while pending:
                    out = self._data(await main.queue.get(), wire.OUT)
                    pending.popleft()
                    if out:
                        yield out
                await main.worker.send((wire.PROBE, main.rid))
                if self._data(await main.queue.get(), wire.PLAIN):
                    async for out in self._windows(main, pieces):
                        yield out
                    return
                self._may_cut = False  # not plain: this one run does it all
        await main.worker.send((wire.FINISH, main.rid))
        while pending:
            out = self._data(await main.queue.get(), wire.OUT)
            pending.popleft()
            if out:
                yield out
        out = self._data(await main.queue.get(), wire.DONE)
        self._done(main)
        if out:
            yield out

    async def _windows(self, main: _Job, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The head's run ends at a record boundary; the rest goes out as
        windows to the least busy workers, taken back in order."""
        await main.worker.send((wire.FINISH, main.rid))
        order: deque[_Job] = deque([main])
        limit = 2 * self._pool.size
        async for window in pieces:
            while len(order) >= limit:
                out = await self._result(order.popleft())
                if out:
                    yield out
            order.append(await self._send_window(window))
        while order:
            out = await self._result(order.popleft())
            if out:
                yield out

    async def _open_run(self) -> _Job:
        worker, rid, queue = self._pool.pick()
        job = _Job(worker, rid, queue)
        self._jobs.append(job)
        pkey, blob = self._pool.blob_for(worker, self._profiles)
        await worker.send((wire.OPEN, rid, pkey, blob, *self._open))
        return job

    async def _send_window(self, window: bytes) -> _Job:
        worker, rid, queue = self._pool.pick()
        job = _Job(worker, rid, queue)
        self._jobs.append(job)
        pkey, blob = self._pool.blob_for(worker, self._profiles)
        await worker.send((wire.WINDOW, rid, pkey, blob, *self._open, window))
        return job

    async def _result(self, job: _Job) -> bytes:
        """A finished run's or window's output (counts merged)."""
        message = await job.queue.get()
        if message[0] == wire.HELD:
            summary = message[3]
            assert isinstance(summary, MaskSummary)
            self._held.update(summary.held)
            message = (wire.DONE, *message[1:4])
        out = self._data(message, wire.DONE, merge=True)
        self._done(job)
        return out

    def _done(self, job: _Job) -> None:
        job.worker.runs.pop(job.rid, None)
        with contextlib.suppress(ValueError):
            self._jobs.remove(job)

    def _data(self, message: Message, expected: str, *, merge: bool = False) -> bytes:
        kind = message[0]
        if kind == wire.ERROR:
            if message[1] == -1:
                raise WorkerGone()
            if isinstance(message[3], MaskSummary):
                self._count(message[3], merge)
            raise wire.unpack_error(message[2])
        if kind == wire.HELD and expected == wire.DONE:
            # One run over the whole body ended in a hold: its output first.
            assert isinstance(message[3], MaskSummary)
            self._held.update(message[3].held)
            kind, message = wire.DONE, message[:4]
        if kind != expected:
            raise errors.InternalError()
        if kind == wire.PLAIN:
            return b"1" if message[2] is True else b""
        if kind == wire.DONE:
            assert isinstance(message[3], MaskSummary)
            self._count(message[3], merge)
        data = message[2]
        assert isinstance(data, bytes)
        return data

    def _count(self, part: MaskSummary, merge: bool) -> None:
        self._held.update(part.held)  # raised after the last window
        if merge and self.summary.content_kind:
            wire.merge_summary(part, self.summary)
        else:  # the first run's summary: the body's form and its counts
            wire.copy_summary(part, self.summary)
            self.summary.held = ()
            self.summary.complete = False


async def _flat(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if chunk:
            yield chunk


async def _cut(chunks: AsyncIterator[bytes], max_record: int) -> AsyncIterator[bytes]:
    """The body in pieces of about `WINDOW` bytes that end after a newline
    (the last one: wherever the body ends). A record longer than the engine
    accepts is refused here as the engine would (it is never buffered)."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        while len(buf) >= WINDOW:
            cut = buf.rfind(b"\n", 0, WINDOW)
            if cut < 0:
                cut = buf.find(b"\n", WINDOW)
            if cut < 0:
                break  # one record so far: wait for its end
            yield bytes(buf[: cut + 1])
            del buf[: cut + 1]
        if len(buf) - (buf.rfind(b"\n") + 1) > max_record:
            raise MaskLimitExceeded("JSONL record", max_record, "max_record_bytes")
    if buf:
        yield bytes(buf)
