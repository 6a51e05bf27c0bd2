"""The masking worker pool: N processes that run the masking engine beside
the event loop (`masking.workers`; 0 runs it inline on the loop).

Each worker talks to the gateway over one socket pair. A request's run is
opened on the least busy worker and stays there (its pipeline state lives
in that process); many runs share a worker, interleaved message by message.
A worker that dies fails every run it held with `InternalError` (nothing of
those runs is stored: callers only keep output of a run that completed) and
is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import multiprocessing
import pickle
import socket
from collections import OrderedDict
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from s3gate import errors
from s3gate.masking import wire
from s3gate.masking.worker import main as worker_main
from s3gate.transform.profile import Profile

log = logging.getLogger("s3gate.masking.pool")
START_TIMEOUT = 60.0
# Profile sets the gateway remembers a worker has unpickled; fewer than the
# worker keeps (worker.PROFILE_SETS), so "known" is never wrong.
KNOWN_SETS = 16
_CRASHED = (wire.ERROR, -1, None, None)  # put on a run's queue when its worker dies


class WorkerGone(errors.InternalError):
    """The masking worker running this request died: fail closed."""


class _Worker:
    def __init__(self, pool: MaskingPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.runs: dict[int, asyncio.Queue[tuple[object, ...]]] = {}
        self.known: OrderedDict[str, None] = OrderedDict()  # profile sets it has
        self.process: BaseProcess | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.alive = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        ours, theirs = multiprocessing.get_context("spawn").Pipe(duplex=True)
        process = multiprocessing.get_context("spawn").Process(
            target=worker_main, args=(theirs,), name=f"s3gate-mask-{self.index}", daemon=True
        )
        process.start()
        theirs.close()
        self.process = process
        sock = socket.socket(fileno=_detach(ours))
        reader, self._writer = await asyncio.open_connection(sock=sock, limit=2**16)
        ready = await asyncio.wait_for(wire.read_message(reader), START_TIMEOUT)
        if ready[0] != wire.READY:
            raise RuntimeError("masking worker did not start")
        self.alive = True
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await wire.read_message(reader)
                rid = message[1]
                queue = self.runs.get(rid) if isinstance(rid, int) else None
                if queue is not None:
                    queue.put_nowait(message)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._died()

    def _died(self) -> None:
        if not self.alive:
            return
        self.alive = False
        for queue in self.runs.values():
            queue.put_nowait(_CRASHED)
        self.runs.clear()
        if self.pool.running:
            log.error("masking worker %d (pid %s) died; replacing it", self.index, self.pid)
            self.pool.replace(self)

    async def send(self, message: tuple[object, ...]) -> None:
        if not self.alive or self._writer is None:
            raise WorkerGone()
        self._writer.write(wire.encode(message))
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise WorkerGone() from exc

    async def stop(self) -> None:
        self.alive = False
        if self._writer is not None:
            self._writer.close()  # the worker sees EOF and exits
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        process = self.process
        if process is not None:
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)


def _detach(conn: Connection) -> int:
    fd = conn.fileno()
    import os

    dup = os.dup(fd)
    conn.close()
    return dup


class MaskingPool:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size = size
        self.workers: list[_Worker] = []
        self.running = False
        self._ids = itertools.count(1)
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._restarts: set[asyncio.Task[None]] = set()
        self.restarted = 0

    async def start(self) -> None:
        self.running = True
        self.workers = [_Worker(self, i) for i in range(self.size)]
        await asyncio.gather(*(w.start() for w in self.workers))
        log.info("masking pool started: %d worker(s)", self.size)

    async def stop(self) -> None:
        self.running = False
        for task in list(self._restarts):
            task.cancel()
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)

    def replace(self, dead: _Worker) -> None:
        async def restart() -> None:
            fresh = _Worker(self, dead.index)
            try:
                await fresh.start()
            except Exception:
                log.exception("masking worker %d could not be restarted", dead.index)
                await asyncio.sleep(1)
                if self.running:
                    self.replace(dead)
                return
            self.workers[dead.index] = fresh
            self.restarted += 1
            if dead.process is not None:
                await asyncio.to_thread(dead.process.join, 5)

        task = asyncio.get_running_loop().create_task(restart())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    def profiles(self, profiles: Sequence[Profile]) -> tuple[str, bytes]:
        """The key (content digests) and pickled form of a profile set, cached."""
        pkey = hashlib.sha256("\0".join(p.digest for p in profiles).encode()).hexdigest()
        blob = self._blobs.get(pkey)
        if blob is None:
            blob = pickle.dumps(list(profiles), protocol=pickle.HIGHEST_PROTOCOL)
            self._blobs[pkey] = blob
            while len(self._blobs) > 64:
                self._blobs.popitem(last=False)
        self._blobs.move_to_end(pkey)
        return pkey, blob

    def blob_for(self, worker: _Worker, profiles: Sequence[Profile]) -> tuple[str, bytes | None]:
        """The key of a profile set and its pickle, or None if `worker` has
        it already (every window of an object would otherwise carry it)."""
        pkey, blob = self.profiles(profiles)
        known = pkey in worker.known
        worker.known[pkey] = None
        worker.known.move_to_end(pkey)
        while len(worker.known) > KNOWN_SETS:
            worker.known.popitem(last=False)
        return pkey, None if known else blob

    async def warm(self, profiles: Sequence[Profile]) -> None:
        """Have every worker compile these profiles' plans now (bundle load)."""
        for worker in self.workers:
            for profile in profiles:
                pkey, blob = self.blob_for(worker, [profile])
                with contextlib.suppress(WorkerGone):
                    await worker.send((wire.WARM, pkey, blob))

    def pick(self) -> tuple[_Worker, int, asyncio.Queue[tuple[object, ...]]]:
        alive = [w for w in self.workers if w.alive]
        if not alive:
            log.error("no masking worker is running")
            raise WorkerGone()
        worker = min(alive, key=lambda w: len(w.runs))
        rid = next(self._ids)
        queue: asyncio.Queue[tuple[object, ...]] = asyncio.Queue()
        worker.runs[rid] = queue
        return worker, rid, queue
