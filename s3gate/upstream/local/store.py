"""The local store's machinery: index thread, blob files, start-up lock and sweep.

`Store` owns the SQLite index and the blob folders and offers the operations
the S3 semantics are built from (`local.upstream`, `local.multipart`):
run an index call on the database thread, commit a mutation together with the
blob files it creates or frees, open the current version of an object.

Every SQLite call runs on one dedicated thread (a connection belongs to one
thread, and one writer at a time is what SQLite allows anyway); blob I/O runs on
the loop's default executor. Neither blocks the event loop.

Several processes (uvicorn workers) may share one store: SQLite serialises
their transactions, and a `LOCK` file tells whether this process is alone at
start-up, which decides how boldly leftovers of a crash may be swept.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from s3gate import errors
from s3gate.upstream.local.blobs import BlobStore, in_thread, settled
from s3gate.upstream.local.index import Index, ObjectRow
from s3gate.upstream.local.uploads import reset_claims

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# When another process shares the store, a temp file or unreferenced blob is
# only a crash leftover once it is this old (a live write touches its temp file
# continuously, and a renamed blob is committed right after the rename).
SHARED_SWEEP_GRACE_SECONDS = 3600
_SWEEP_BATCH = 500
# How often to re-read an index row whose blob vanished (replaced meanwhile).
_OPEN_ATTEMPTS = 20


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = BlobStore(root)
        self._index: Index | None = None
        self._db_thread: ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self._lifecycle = asyncio.Lock()  # start/close may be called concurrently

    @property
    def started(self) -> bool:
        return self._index is not None

    async def start(self) -> None:
        async with self._lifecycle:
            if self._index is None:
                await self._start()

    async def _start(self) -> None:
        db_thread = ThreadPoolExecutor(1, thread_name_prefix="s3gate-local-index")
        loop = asyncio.get_running_loop()
        try:
            await in_thread(self.blobs.prepare)
            self._lock_fd, alone = await in_thread(_lock, self.root / "LOCK")
            self._index = await settled(
                loop.run_in_executor(db_thread, Index.open, self.root / "index.sqlite3")
            )
            self._db_thread = db_thread
            await self.db(self._sweep, alone)
            if alone:
                # Done sweeping: from now on other processes may join.
                await in_thread(fcntl.flock, self._lock_fd, fcntl.LOCK_SH)
        except BaseException:
            await self._shutdown(db_thread)
            raise

    async def close(self) -> None:
        async with self._lifecycle:
            if self._db_thread is not None:
                await self._shutdown(self._db_thread)

    async def _shutdown(self, db_thread: ThreadPoolExecutor) -> None:
        index, self._index, self._db_thread = self._index, None, None
        if index is not None:
            await settled(asyncio.get_running_loop().run_in_executor(db_thread, index.close))
        db_thread.shutdown(wait=False)
        lock_fd, self._lock_fd = self._lock_fd, None
        if lock_fd is not None:
            os.close(lock_fd)  # releases the flock

    async def probe(self) -> None:
        try:
            await in_thread(self.blobs.probe)
            await self.db(Index.ping)
        except (OSError, sqlite3.Error) as exc:
            raise errors.ServiceUnavailable(f"The local store is not usable: {exc}") from exc

    # ---- running index work ----------------------------------------------------

    async def db(
        self, fn: Callable[Concatenate[Index, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(index, ...)` on the database thread."""
        index, db_thread = self._index, self._db_thread
        if index is None or db_thread is None:
            raise errors.ServiceUnavailable("The local store is not started.")
        call = functools.partial(fn, index, *args, **kwargs)
        return await settled(asyncio.get_running_loop().run_in_executor(db_thread, call))

    async def commit(
        self,
        fresh: Sequence[str],
        fn: Callable[Concatenate[Index, P], list[str]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Run the index mutation `fn`, which returns the blobs it unreferenced.

        On success those are unlinked; on failure the `fresh` blobs written for
        it are. Both happen in the same job as the transaction, so even a
        cancelled caller can never leave a committed row without its blob or a
        dead blob behind."""

        def job(index: Index) -> None:
            try:
                garbage = fn(index, *args, **kwargs)
            except BaseException:
                self.blobs.remove(fresh)
                raise
            self.blobs.remove(garbage)

        await self.db(job)

    async def open_current(self, bucket: str, key: bytes) -> tuple[ObjectRow, int]:
        """The object's row and a read descriptor for exactly that version."""

        def job(index: Index) -> tuple[ObjectRow, int]:
            for _ in range(_OPEN_ATTEMPTS):
                row = index.lookup(bucket, key)
                try:
                    return row, self.blobs.open_fd(row.blob)
                except FileNotFoundError:
                    continue  # overwritten and unlinked after our lookup: look again
            raise errors.InternalError("The stored object keeps changing or is missing its data.")

        index, db_thread = self._index, self._db_thread
        if index is None or db_thread is None:
            raise errors.ServiceUnavailable("The local store is not started.")
        fut = asyncio.get_running_loop().run_in_executor(db_thread, job, index)
        return await settled(fut, discard=lambda opened: os.close(opened[1]))

    # ---- start-up sweep -----------------------------------------------------------

    def _sweep(self, index: Index, alone: bool) -> None:
        """Remove what a crash can leave: temp files, blobs renamed into place but
        never committed (or never unlinked), and completions that never finished."""
        cutoff = time.time() - (0 if alone else SHARED_SWEEP_GRACE_SECONDS)
        if alone:
            reset_claims(index)
        removed = self.blobs.sweep_tmp(cutoff)
        for names in self.blobs.blobs_before(cutoff):
            for i in range(0, len(names), _SWEEP_BATCH):
                orphans = index.unreferenced(names[i : i + _SWEEP_BATCH])
                self.blobs.remove(orphans)
                removed += len(orphans)
        if removed:
            log.info("local store: removed %d leftover file(s) under %s", removed, self.root)


def _lock(path: Path) -> tuple[int, bool]:
    """Open the lock file; (fd, True) when this process is the only user."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, True
        except BlockingIOError:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return fd, False
    except BaseException:
        os.close(fd)
        raise
