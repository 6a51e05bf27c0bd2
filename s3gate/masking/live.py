"""A view that does not exist yet, sent to its first reader as it is made.

The first GET of an object that has no view in the reader's family (written
around the gateway, or after a profile or token key changed) does not wait
for the whole view: the masked bytes go to the reader as the masker produces
them and, at the same time, into a local spool (a tee). When the last byte
has been masked the spool is stored as the view (`ViewStore.put`: one PUT of
the whole view under a key that names its MD5 and length) and only then does
the response end, so a reader whose response ended normally can count on the
view being in the store for the next read.

- A failure after the first byte (a record over the limit, a corrupt stream,
  the store's GET breaking) aborts the response: the exception reaches the
  server after the headers went out, and the connection is closed without
  the chunked body's last chunk, so the client sees a broken response, never
  a complete one. Nothing is stored (the spool is removed).
- A reader that leaves mid-way abandons the build: nothing is stored; the
  next read starts again.
- Readers of the same missing view on this replica while one is being made:
  each GET masks and streams its own copy (its first byte at once, one more
  masking pass), only the first stores it; HEAD and ranged GETs wait for that
  build (`ViewStore.view`), since they need the view's length and ETag.
- Only where `livecheck` allows it; otherwise the view is built first, as
  `ViewStore.view` does (the caller then answers from the store).

The live response has no Content-Length and no ETag (neither is known before
the last byte): HTTP/1.1 chunked, which is why the caller requires HTTP/1.1.
The view is made with the request's own profiles, so it is the view of the
request's bundle, whatever bundle is loaded meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from s3gate import errors
from s3gate.masking.livecheck import EncodingWatch, refusing_rules
from s3gate.masking.spool import Spool
from s3gate.masking.viewkeys import building_id, folder, version
from s3gate.masking.views import Abandoned, View, ViewStore
from s3gate.s3.model import Conditions, ObjectHead
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary
from s3gate.upstream.base import ObjectStream, Upstream

log = logging.getLogger("s3gate.masking")
_RETRIES = 3


@dataclass(frozen=True)
class LiveView:
    """A view being made while it is read: its bytes, once, in order."""

    head: ObjectHead  # of the stored object (metadata, last-modified)
    profiles: tuple[str, ...]
    summary: MaskSummary  # filled as the masking runs; complete after the last byte
    pieces: AsyncIterator[bytes]  # raises on any failure (the response must break)
    close: Callable[[], Awaitable[None]]  # releases everything; safe to call twice


class _NotLive(Exception):
    """This reader may not stream the view and is not the one building it."""


async def open_view(
    store: ViewStore,
    upstream: Upstream,
    bucket: str,
    key: str,
    profiles: Sequence[Profile],
    version_id: str | None = None,
) -> View | LiveView:
    """The reader's view of `key` (of its version `version_id` when given):
    from the store if it is there, else live (see the module doc), else built
    first."""
    if refusing_rules(profiles):
        return await store.view(upstream, bucket, key, profiles, version_id)
    names = tuple(p.name for p in profiles)
    fam = store.family(profiles)
    for _ in range(_RETRIES):
        head = await upstream.head_object(bucket, key, version_id=version_id)
        ver = version(head.etag, head.metadata)
        found = await store.find(upstream, bucket, fam, key, ver)
        if found is not None:
            store.counts["found"] += 1
            store.remember(bucket, fam, key, head.etag, found)
            return View(head, found, names, MaskSummary(profiles=names, complete=True))
        ident = building_id(bucket, fam, key, ver)
        tee = _Tee(store, upstream, bucket, key, head, fam, profiles, version_id)
        if not store.building(ident):  # no build of it running here: this one stores it
            tee.build(ident)
        try:
            return await tee.start()
        except errors.PreconditionFailed:
            continue  # the object changed between HEAD and GET: look again
        except _NotLive:
            return await store.view(upstream, bucket, key, profiles, version_id)
    raise errors.ServiceUnavailable("The object kept changing while its view was computed")


class _Tee:
    def __init__(
        self,
        store: ViewStore,
        upstream: Upstream,
        bucket: str,
        key: str,
        head: ObjectHead,
        fam: str,
        profiles: Sequence[Profile],
        version_id: str | None,
    ) -> None:
        self._store = store
        # An old version's view makes no other view go (the current one may
        # still be read), as in `ViewStore.view`.
        self._version_id = version_id
        self._upstream = upstream
        self._bucket = bucket
        self._key = key
        self._head = head
        self._fam = fam
        self._profiles = profiles
        self._names = tuple(p.name for p in profiles)
        masker = store.masker(profiles, head.metadata, key)
        self._masker = masker
        self._ident: str | None = None
        self._future: asyncio.Future[View] | None = None
        self._spool: Spool | None = None
        self._stream: ObjectStream | None = None
        self._out: AsyncIterator[bytes] | None = None
        self._closed = False

    def build(self, ident: str) -> None:
        """This tee stores the view; others wait for it or stream their own."""
        self._ident = ident
        self._future = self._store.begin(ident)
        self._spool = self._store.spool()

    async def start(self) -> View | LiveView:
        """Up to the first masked byte: refusals that come before it (the
        binary rule, a coding nobody can undo, the object changed) are S3
        errors as usual. Then a `LiveView`, or the whole view built (`View`)
        when this body may not be streamed."""
        try:
            self._stream = await self._upstream.get_object(
                self._bucket,
                self._key,
                conditions=Conditions(if_match=self._head.etag),
                version_id=self._version_id,
            )
            watch = EncodingWatch(self._head.metadata, self._key, self._store.limits)
            self._out = self._masker.transform(watch.watch(self._stream.body))
            first = await self._first()
            if first is not None and watch.live:
                return LiveView(
                    self._head, self._names, self._masker.summary, self._rest(first), self.close
                )
            if self._spool is None:
                raise _NotLive()
            if first is not None:
                await self._spool.write(first)
            async for piece in self._out:
                await self._spool.write(piece)
            view = await self._keep()
        except BaseException as exc:
            await self.close(exc)
            raise
        await self.close()
        return view

    async def _first(self) -> bytes | None:
        assert self._out is not None
        async for piece in self._out:
            if piece:
                return piece
        return None

    async def _rest(self, first: bytes) -> AsyncIterator[bytes]:
        assert self._out is not None
        complete = False
        try:
            if self._spool is not None:
                await self._spool.write(first)
            yield first
            async for piece in self._out:
                if self._spool is not None:
                    await self._spool.write(piece)
                yield piece
            complete = True
            if self._spool is not None:
                try:
                    await self._keep()
                except errors.S3Error as exc:  # the reader has it all; the next read builds
                    log.warning("a view sent live could not be stored: %s", exc.code)
        finally:
            await self.close(None if complete else Abandoned())

    async def _keep(self) -> View:
        """Store the whole view (spooled), tell whoever waits, prune older ones."""
        assert self._spool is not None and self._future is not None and self._ident is not None
        store, head = self._store, self._head
        self._spool.flush()
        summary = self._masker.summary
        ref = await store.put(
            self._upstream, self._bucket, self._key, head.etag, head.metadata, self._fam,
            summary, self._spool,
        )  # fmt: skip
        store.counts["read"] += 1
        view = View(head, ref, self._names, summary, built=True)
        store.settle(self._ident, self._future, view)
        store.remember(self._bucket, self._fam, self._key, head.etag, ref)
        if self._version_id is not None:
            return view
        where = folder(self._fam, self._key)
        await store.prune(
            self._upstream, self._bucket, where, keep=version(head.etag, head.metadata)
        )
        return view

    async def close(self, outcome: BaseException | None = None) -> None:
        """Release the masker, the store's stream and the spool; a build that
        ended without a view lets its waiters look again."""
        if self._closed:
            return
        self._closed = True
        if self._future is not None and self._ident is not None:
            if outcome is None or isinstance(outcome, errors.PreconditionFailed):
                outcome = Abandoned()  # waiters look again (the object changed, say)
            self._store.settle(self._ident, self._future, outcome)
        try:
            if self._out is not None:
                aclose = getattr(self._out, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            try:
                if self._stream is not None:
                    await self._stream.aclose()
            finally:
                if self._spool is not None:
                    self._spool.close()
