"""Immutable blob files of the local store: written once, renamed into place, unlinked.

A blob's name is random and says nothing about the key it holds, so any S3 key
works (the index maps keys to blobs). Blobs are never modified after the
rename, which is what makes overwrites atomic for readers: a reader that
opened the old blob keeps reading it after the index points elsewhere and the
old name is unlinked (POSIX keeps the inode alive while it is open).

Layout under the store root:
    blobs/<2 hex>/<32 hex>   content, one file per object or staged part
    tmp/<32 hex>.tmp         bodies being received; never referenced by the index

Methods documented as blocking are called on a worker thread; the async ones
drive the body iterator on the event loop and hand each ~1 MiB to a thread for
writing and hashing, so memory stays bounded whatever the object size.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import shutil
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from s3gate import errors
from s3gate.files import sync_directory
from s3gate.upstream.base import Body
from s3gate.upstream.local.rules import decode_content_md5

CHUNK = 1024 * 1024

log = logging.getLogger(__name__)
T = TypeVar("T")


async def settled(fut: asyncio.Future[T], discard: Callable[[T], object] | None = None) -> T:
    """Await work running on a thread; if cancelled meanwhile, wait for it to finish
    before re-raising, so the caller's cleanup sees the thread's final effects (a
    thread cannot be interrupted, and a half-known outcome leaks files). A result
    that nobody will receive is handed to `discard` (to close or remove it)."""
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        while not fut.done():
            try:
                await asyncio.wait([fut])
            except asyncio.CancelledError:
                continue
        if not fut.cancelled() and fut.exception() is None and discard is not None:
            discard(fut.result())
        raise


async def in_thread(
    fn: Callable[..., T], *args: Any, discard: Callable[[T], object] | None = None
) -> T:
    loop = asyncio.get_running_loop()
    return await settled(loop.run_in_executor(None, fn, *args), discard)


@dataclass(frozen=True)
class Written:
    blob: str
    size: int
    md5_hex: str


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"

    def prepare(self) -> None:
        """Create the folders (blocking). All 256 fan-out folders exist up front so
        that writing a blob never has to make a folder durable first."""
        for folder in (self.root, self.blob_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for i in range(256):
            (self.blob_dir / f"{i:02x}").mkdir(exist_ok=True)
        sync_directory(self.blob_dir)
        sync_directory(self.root)

    def path(self, blob: str) -> Path:
        return self.blob_dir / blob[:2] / blob

    # ---- writing ------------------------------------------------------------

    async def write(self, body: Body) -> Written:
        """Receive `body` into a new durable blob, verifying length and digests.

        Nothing is left behind if the iterator raises, the length is wrong or a
        digest does not match: the temp file is removed and the error re-raised."""
        expected_md5 = decode_content_md5(body.content_md5) if body.content_md5 else None

        async def fill(out: BinaryIO) -> tuple[int, str]:
            md5 = hashlib.md5(usedforsecurity=False)
            sha = hashlib.sha256() if body.sha256_hex else None
            # Chunks are gathered to ~1 MiB so that each thread hop does real work.
            pending: list[bytes] = []
            pending_len = size = 0
            async for chunk in body.chunks:
                size += len(chunk)
                if size > body.length:
                    raise errors.IncompleteBody("The body is longer than its declared length.")
                pending.append(chunk)
                pending_len += len(chunk)
                if pending_len >= CHUNK:
                    await in_thread(_absorb, out, pending, md5, sha)
                    pending, pending_len = [], 0
            if pending:
                await in_thread(_absorb, out, pending, md5, sha)
            if size != body.length:
                raise errors.IncompleteBody()
            if expected_md5 is not None and md5.digest() != expected_md5:
                raise errors.BadDigest()
            if sha is not None and sha.hexdigest() != (body.sha256_hex or "").lower():
                raise errors.XAmzContentSHA256Mismatch()
            return size, md5.hexdigest()

        blob, (size, md5_hex) = await self._stage(fill)
        return Written(blob, size, md5_hex)

    async def concat(self, blobs: list[str]) -> Written:
        """A new blob holding `blobs` end to end, copied in bounded pieces.
        The returned md5_hex is empty: a multipart ETag is derived from the parts."""

        async def fill(out: BinaryIO) -> int:
            for part in blobs:
                await in_thread(self._append, out, part)
            return out.tell()

        blob, size = await self._stage(fill)
        return Written(blob, size, "")

    async def _stage(self, fill: Callable[[BinaryIO], Awaitable[T]]) -> tuple[str, T]:
        """Let `fill` write a temp file, then make it a durable blob; on any failure
        (including cancellation) remove every trace and re-raise."""
        blob = secrets.token_hex(16)
        tmp = self.tmp_dir / f"{blob}.tmp"
        out: BinaryIO | None = None
        try:
            created = await in_thread(_create, tmp, discard=_close)
            out = created
            result = await fill(created)
            await in_thread(self._seal, created, tmp, blob)
        except BaseException:
            # Runs on the loop even when cancelled: close + unlink are quick syscalls.
            if out is not None:
                out.close()
            tmp.unlink(missing_ok=True)
            self.path(blob).unlink(missing_ok=True)
            raise
        return blob, result

    def _seal(self, out: BinaryIO, tmp: Path, blob: str) -> None:
        """Make a finished temp file durable and give it its blob name (blocking)."""
        out.flush()
        os.fsync(out.fileno())
        out.close()
        final = self.path(blob)
        os.rename(tmp, final)
        sync_directory(final.parent)

    def _append(self, out: BinaryIO, blob: str) -> None:
        with open(self.path(blob), "rb") as src:
            shutil.copyfileobj(src, out, CHUNK)

    def clone(self, blob: str) -> str:
        """A new blob with the same content (blocking). A hard link costs nothing and
        gives the copy its own name, so deleting either never affects the other;
        filesystems without links get a streamed copy. FileNotFoundError means the
        source was replaced meanwhile; the caller looks it up again."""
        new = secrets.token_hex(16)
        target = self.path(new)
        try:
            os.link(self.path(blob), target)
        except FileNotFoundError:
            raise
        except OSError:
            tmp = self.tmp_dir / f"{new}.tmp"
            try:
                with open(self.path(blob), "rb") as src, open(tmp, "xb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                os.rename(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        sync_directory(target.parent)
        return new

    # ---- reading and removing ---------------------------------------------

    def open_fd(self, blob: str) -> int:
        """A read descriptor for `blob` (blocking); FileNotFoundError if it was replaced."""
        return os.open(self.path(blob), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def remove_one(self, blob: str) -> None:
        self.remove([blob])

    def remove(self, blobs: Iterable[str]) -> None:
        """Unlink blobs no longer referenced (blocking). Failures only leak space:
        the start-up sweep removes what is left, so they are logged, not raised."""
        for blob in blobs:
            try:
                self.path(blob).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove blob %s: %s", blob, exc)

    # ---- start-up sweep ------------------------------------------------------

    def sweep_tmp(self, older_than: float) -> int:
        """Remove temp files last touched before `older_than` (blocking)."""
        stale = list(_files_changed_before(self.tmp_dir, older_than, ctime=False))
        for entry in stale:
            Path(entry.path).unlink(missing_ok=True)
        return len(stale)

    def blobs_before(self, older_than: float) -> Iterator[list[str]]:
        """Blob names per fan-out folder whose inode changed before `older_than`.
        ctime, not mtime: a fresh hard link keeps the old mtime but bumps ctime."""
        for i in range(256):
            folder = self.blob_dir / f"{i:02x}"
            names = [e.name for e in _files_changed_before(folder, older_than, ctime=True)]
            if names:
                yield names

    def probe(self) -> None:
        """Prove the store accepts a durable write (blocking)."""
        path = self.tmp_dir / f"probe-{secrets.token_hex(8)}.tmp"
        try:
            with open(path, "xb") as out:
                out.write(b"probe")
                out.flush()
                os.fsync(out.fileno())
        finally:
            path.unlink(missing_ok=True)


def _absorb(out: BinaryIO, chunks: list[bytes], md5: Any, sha: Any) -> None:
    for chunk in chunks:
        out.write(chunk)
        md5.update(chunk)
        if sha is not None:
            sha.update(chunk)


def _create(path: Path) -> BinaryIO:
    return open(path, "xb")


def _close(out: BinaryIO) -> None:
    out.close()


def _files_changed_before(
    folder: Path, cutoff: float, *, ctime: bool
) -> Iterator[os.DirEntry[str]]:
    for entry in os.scandir(folder):
        try:
            if not entry.is_file():
                continue
            stat = entry.stat()
            if (stat.st_ctime if ctime else stat.st_mtime) < cutoff:
                yield entry
        except FileNotFoundError:
            continue  # removed meanwhile by another process sharing the store


class BlobReader:
    """Streams bytes [first, first + length) of an open blob in CHUNK pieces.

    The descriptor was opened while the index still pointed at this blob, so the
    stream shows exactly that version even if the key is overwritten meanwhile."""

    def __init__(self, fd: int, first: int, length: int) -> None:
        self._fd = fd
        self._first = first
        self._length = length
        # A stream dropped without being read or closed must not leak its descriptor.
        self._finalizer = weakref.finalize(self, os.close, fd)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            offset, remaining = self._first, self._length
            while remaining > 0:
                data = await in_thread(os.pread, self._fd, min(CHUNK, remaining), offset)
                if not data:
                    raise errors.InternalError("A stored object is shorter than its index entry.")
                offset += len(data)
                remaining -= len(data)
                yield data
        finally:
            self.close_now()

    def close_now(self) -> None:
        self._fd = -1
        self._finalizer()  # closes the descriptor once, however often it is called

    async def close(self) -> None:
        self.close_now()
