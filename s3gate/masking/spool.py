"""Masked output parked on local disk before it goes anywhere.

Masking changes the length of a body, and a refusal (block, hold, a record
over the limit) can come at its very end; so the masked output is written to
a temporary file first — never to the store — and only a complete, successful
run is sent upstream, with its exact length, SHA-256 and MD5. Memory stays
bounded (pieces of at most a few MiB); the file is removed in every case.
The spool only ever holds masked bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType

from s3gate.upstream.base import Body

READ_PIECE = 1024 * 1024
# Writes smaller than this go straight to the page cache from the event loop;
# larger ones go through a thread so a slow disk cannot stall other requests.
_INLINE_WRITE = 256 * 1024


class Spool:
    """One masked body parked on disk (not `audit.write.spool.AuditSpool`,
    the durable queue of audit events)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="spool-", dir=directory)
        self.path = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._md5 = hashlib.md5()  # noqa: S324 - S3's ETag, not a security use
        self._sha256 = hashlib.sha256()
        self.length = 0
        self._kept = False

    async def fill(self, pieces: AsyncIterator[bytes]) -> None:
        async for piece in pieces:
            await self.write(piece)
        self.flush()

    async def write(self, piece: bytes) -> None:
        """One more piece (a tee writes them as they go to a reader too);
        `flush()` after the last."""
        self._md5.update(piece)
        self._sha256.update(piece)
        self.length += len(piece)
        if len(piece) < _INLINE_WRITE:
            self._file.write(piece)
        else:
            await asyncio.to_thread(self._file.write, piece)

    def flush(self) -> None:
        self._file.flush()

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    @property
    def sha256_hex(self) -> str:
        return self._sha256.hexdigest()

    def body(self) -> Body:
        return Body(
            self._chunks(),
            self.length,
            sha256_hex=self.sha256_hex,
            content_md5=base64.b64encode(self._md5.digest()).decode(),
        )

    async def part(self, offset: int, length: int) -> Body:
        """Bytes [offset, offset + length) as a body of their own (one part of
        a multipart upload, `masking.upstreamput`), with their SHA-256 and
        MD5 so the store checks them: read once in a thread to hash them, then
        streamed (from the page cache, as a rule)."""
        sha256, md5 = await asyncio.to_thread(self._digest_range, offset, length)
        return Body(
            self._range_chunks(offset, length),
            length,
            sha256_hex=sha256,
            content_md5=base64.b64encode(md5).decode(),
        )

    def _digest_range(self, offset: int, length: int) -> tuple[str, bytes]:
        sha256 = hashlib.sha256()
        md5 = hashlib.md5()  # noqa: S324 - S3's Content-MD5, not a security use
        with self.path.open("rb") as f:
            f.seek(offset)
            left = length
            while left and (piece := f.read(min(READ_PIECE, left))):
                sha256.update(piece)
                md5.update(piece)
                left -= len(piece)
        return sha256.hexdigest(), md5.digest()

    async def _range_chunks(self, offset: int, length: int) -> AsyncIterator[bytes]:
        # A file of its own: parts never share the spool's read position.
        f = await asyncio.to_thread(self.path.open, "rb")
        try:
            f.seek(offset)
            left = length
            while left and (piece := await asyncio.to_thread(f.read, min(READ_PIECE, left))):
                left -= len(piece)
                yield piece
        finally:
            f.close()

    async def _chunks(self) -> AsyncIterator[bytes]:
        self._file.seek(0)
        while piece := await asyncio.to_thread(self._file.read, READ_PIECE):
            yield piece

    def detach(self, path: Path) -> None:
        """Keep the spooled bytes as `path` (same directory) instead of removing them."""
        self._file.close()
        os.replace(self.path, path)
        self.path = path
        self._kept = True

    def close(self) -> None:
        self._file.close()
        if not self._kept:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
