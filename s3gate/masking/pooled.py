"""`PooledMasker`: the `Masker` interface (`transform`, `summary`) with the
pipeline running in a pool worker. The loop only moves bytes: at most
`WINDOW` input bytes of one request are in flight to its worker before the
output they produced has come back (backpressure, flat memory), and output
keeps input order because one worker runs the whole request."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from s3gate import errors
from s3gate.masking import wire
from s3gate.masking.pool import MaskingPool, WorkerGone
from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary

WINDOW = 1024 * 1024


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
        names = tuple(p.name for p in sorted(self._profiles, key=lambda p: p.name))
        self.summary = MaskSummary(profiles=names)

    async def transform(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        worker, rid, queue = self._pool.pick()
        finished = False
        try:
            pkey, blob = self._pool.profiles(self._profiles)
            await worker.send((wire.OPEN, rid, pkey, blob, *self._open))
            pending: deque[int] = deque()
            inflight = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                await worker.send((wire.FEED, rid, chunk))
                pending.append(len(chunk))
                inflight += len(chunk)
                while inflight > WINDOW:
                    out = self._data(await queue.get(), wire.OUT)
                    inflight -= pending.popleft()
                    if out:
                        yield out
            await worker.send((wire.FINISH, rid))
            while pending:
                out = self._data(await queue.get(), wire.OUT)
                pending.popleft()
                if out:
                    yield out
            out = self._data(await queue.get(), wire.DONE)
            finished = True
            if out:
                yield out
        finally:
            worker.runs.pop(rid, None)
            if not finished and worker.alive:
                # Abandoned or failed: the worker drops the run's state.
                with contextlib.suppress(WorkerGone):
                    await worker.send((wire.ABORT, rid))

    def _data(self, message: tuple[object, ...], expected: str) -> bytes:
        kind = message[0]
        if kind == wire.ERROR:
            if message[1] == -1:
                raise WorkerGone()
            if isinstance(message[3], MaskSummary):
                wire.copy_summary(message[3], self.summary)
            raise wire.unpack_error(message[2])
        if kind != expected:
            raise errors.InternalError()
        if kind == wire.DONE:
            assert isinstance(message[3], MaskSummary)
            wire.copy_summary(message[3], self.summary)
        data = message[2]
        assert isinstance(data, bytes)
        return data
