"""Read views: an object as a masking profile lets one reader see it.

A view is computed whole (the masked length and ETag are only known at the
end) and kept on this replica's disk, keyed by everything it depends on: the
bucket and key, the stored object's ETag, size and last-modified time, and
the digests of the profiles (which include their token keys). So:

- HEAD and GET of one view agree on Content-Length and ETag, and a ranged GET
  (or a multi-part download: HEAD, then ranged GETs with If-Match) is a slice
  of exactly the bytes a single GET returns — masking is deterministic, so a
  replica that computes the view again gets the same bytes;
- a changed object (new ETag/time) or a changed profile (new bundle) is a new
  view; stale ones age out of the cache (least recently used, bounded bytes).

The view's ETag is the MD5 of its bytes, so clients that compare a download's
MD5 with the ETag (s3cmd, rclone) find them equal. A view only ever holds
masked bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from s3gate import errors
from s3gate.masking.pooled import PooledMasker
from s3gate.masking.spool import Spool
from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary
from s3gate.upstream.base import Conditions, ObjectHead, Upstream

log = logging.getLogger("s3gate.masking")
PIECE = 1024 * 1024
_RETRIES = 3


@dataclass(frozen=True)
class View:
    head: ObjectHead  # of the stored object (metadata, last-modified)
    path: Path
    length: int
    etag: str  # quoted MD5 of the view's bytes
    profiles: tuple[str, ...]
    summary: MaskSummary  # what masking did to compute it (counts only)


class ViewCache:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        limits: Limits,
        maskers: Callable[..., Masker | PooledMasker] | None = None,
    ) -> None:
        # The service's masker factory (the worker pool); inline without one.
        self._maskers = maskers
        # Views of a previous run are not trusted (nor needed): start empty.
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._dir = directory
        self._max_bytes = max_bytes
        self._limits = limits
        self._entries: OrderedDict[str, View] = OrderedDict()
        self._bytes = 0
        self._building: dict[str, asyncio.Future[View]] = {}

    async def view(
        self, upstream: Upstream, bucket: str, key: str, profiles: Sequence[Profile]
    ) -> View:
        for _ in range(_RETRIES):
            head = await upstream.head_object(bucket, key)
            ident = _identity(bucket, key, head, profiles)
            found = self._entries.get(ident)
            if found is not None and found.path.exists():
                self._entries.move_to_end(ident)
                return found
            pending = self._building.get(ident)
            if pending is not None:  # another request is computing this view
                return await asyncio.shield(pending)
            future: asyncio.Future[View] = asyncio.get_running_loop().create_future()
            self._building[ident] = future
            try:
                view = await self._build(upstream, bucket, key, head, ident, profiles)
            except errors.PreconditionFailed:
                future.cancel()
                continue  # the object changed between HEAD and GET: look again
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
                raise
            finally:
                self._building.pop(ident, None)
            future.set_result(view)
            return view
        raise errors.ServiceUnavailable("The object kept changing while its view was computed")

    async def _build(
        self,
        upstream: Upstream,
        bucket: str,
        key: str,
        head: ObjectHead,
        ident: str,
        profiles: Sequence[Profile],
    ) -> View:
        stream = await upstream.get_object(bucket, key, conditions=Conditions(if_match=head.etag))
        masker = (self._maskers or partial(Masker, limits=self._limits))(
            profiles,
            content_type=head.metadata.get("content-type"),
            content_encoding=head.metadata.get("content-encoding"),
            key=key,
        )
        spool = Spool(self._dir)
        try:
            await spool.fill(masker.transform(stream.body))
        except BaseException:
            spool.close()
            raise
        finally:
            await stream.aclose()
        path = self._dir / ident
        spool.detach(path)
        names = tuple(p.name for p in profiles)
        view = View(head, path, spool.length, f'"{spool.md5_hex}"', names, masker.summary)
        self._remember(ident, view)
        return view

    def _remember(self, ident: str, view: View) -> None:
        self._entries[ident] = view
        self._bytes += view.length
        while self._bytes > self._max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.length
            # A reader still streaming the old file keeps its open descriptor.
            with contextlib.suppress(OSError):
                old.path.unlink()


def _identity(bucket: str, key: str, head: ObjectHead, profiles: Sequence[Profile]) -> str:
    parts = {
        "bucket": bucket,
        "key": key,
        "etag": head.etag,
        "size": head.size,
        "modified": head.last_modified.isoformat(),
        "profiles": sorted(p.digest for p in profiles),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def open_view(view: View) -> int:
    """A descriptor on the view's bytes. Opened without yielding to the event
    loop, right after the lookup, so that eviction cannot slip in between;
    the open descriptor keeps the bytes readable even if evicted later."""
    try:
        return os.open(view.path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise errors.ServiceUnavailable("The view was evicted; please retry") from exc


async def read_range(fd: int, first: int, last: int) -> AsyncGenerator[bytes, None]:
    """Bytes first..last (inclusive) of an open view, in bounded pieces; closes fd."""
    try:
        offset = first
        while offset <= last:
            size = min(PIECE, last - offset + 1)
            piece = await asyncio.to_thread(os.pread, fd, size, offset)
            if not piece:
                raise errors.InternalError()
            offset += len(piece)
            yield piece
    finally:
        os.close(fd)
