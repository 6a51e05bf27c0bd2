"""Read views, shared by every replica: materialised in the store.

A masked reader's view of an object is computed once per (object version,
profiles) for the whole deployment and kept in the object's bucket under the
gateway's internal prefix, which no client can address or list (the layout:
`masking.viewkeys`; the counts kept with a view: `masking.viewsummary`;
removing stale views: `masking.viewprune`). This module finds a view, or
builds it once per replica however many readers ask, and remembers what the
index said for repeat listings.

So every replica reads the same view, HEAD and GET and listings agree, a
ranged GET is served by the store, and a changed object or profile is simply
another key (nothing to invalidate). A request decided under a new bundle is
served only a view whose family matches the profiles of *that* bundle: a view
made under another bundle is used only if it was made with byte-for-byte the
same profiles and keys, i.e. it is the view the new bundle would make.

Views are built at write time for the configured profiles
(`views.materialise`), lazily on the first read otherwise, and by `s3gate
views rebuild`. A view only ever holds masked bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from s3gate import errors
from s3gate.masking import viewprune
from s3gate.masking.pooled import MaskerFactory, PooledMasker
from s3gate.masking.spool import Spool
from s3gate.masking.upstreamput import Sizing, send_spool
from s3gate.masking.viewkeys import TAIL, ViewRef, building_id, family, folder, version
from s3gate.masking.viewsummary import summary_metadata
from s3gate.s3.model import Conditions, Metadata, ObjectHead
from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate.masking")
_RETRIES = 3


@dataclass(frozen=True)
class View:
    head: ObjectHead  # of the stored object (metadata, last-modified)
    ref: ViewRef
    profiles: tuple[str, ...]
    summary: MaskSummary  # what masking did (counts only; profiles only if unknown)
    built: bool = False  # made by this request (not found in the store)

    @property
    def length(self) -> int:
        return self.ref.length

    @property
    def etag(self) -> str:
        return self.ref.etag


class Abandoned(Exception):
    """A build that ended without a view and without an error of its own (its
    reader left, or the object changed under it): whoever waited looks again.
    Never leaves this module's callers: `view` retries, then answers
    ServiceUnavailable."""


class ViewStore:
    def __init__(
        self,
        spool_dir: Path,
        limits: Limits,
        index_cache_entries: int = 0,
        maskers: MaskerFactory | None = None,
        sizing: Sizing | None = None,
    ) -> None:
        self._spool_dir = spool_dir
        # A view of a large object goes up in parts, as the object did.
        self._sizing = sizing or Sizing()
        self.limits = limits
        # The service's masker factory (the worker pool when it runs); the
        # `s3gate views rebuild` command masks inline without one.
        self._maskers = maskers
        # Views are immutable per (bucket, family, key, stored ETag): what the
        # index said about one stays true, so this replica remembers it
        # (bounded, least recently used out) and repeat listings skip the
        # index LIST. Never consulted for GET/HEAD (they check the store).
        self._cache: OrderedDict[tuple[str, str, str, str], ViewRef] = OrderedDict()
        self._cache_entries = index_cache_entries
        self._refused: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        # Listings whose every entry came from the cache, by (bucket, family,
        # prefix): their next page skips the speculative index read.
        self.warm: dict[tuple[str, str, str], bool] = {}
        # Views this replica is building now: concurrent readers wait for one build.
        self._building: dict[str, asyncio.Future[View]] = {}
        # Views built ("write", "read") and found ready ("found"), for metrics.
        self.counts: Counter[str] = Counter()

    def family(self, profiles: Sequence[Profile]) -> str:
        return family(profiles, self.limits)

    def remember(self, bucket: str, fam: str, key: str, etag: str, ref: ViewRef) -> None:
        if self._cache_entries <= 0:
            return
        self._cache[(bucket, fam, key, etag.strip('"'))] = ref
        self._cache.move_to_end((bucket, fam, key, etag.strip('"')))
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
        if len(self.warm) > self._cache_entries:
            self.warm.clear()

    def refuse(self, bucket: str, fam: str, key: str, etag: str) -> None:
        """Remember that the profiles refuse this version (listings skip it)."""
        self._refused[(bucket, fam, key, etag.strip('"'))] = None
        while len(self._refused) > max(self._cache_entries, 1000):
            self._refused.popitem(last=False)

    def is_refused(self, bucket: str, fam: str, key: str, etag: str) -> bool:
        return (bucket, fam, key, etag.strip('"')) in self._refused

    def cached(self, bucket: str, fam: str, key: str, etag: str) -> ViewRef | None:
        ref = self._cache.get((bucket, fam, key, etag.strip('"')))
        if ref is not None:
            self._cache.move_to_end((bucket, fam, key, etag.strip('"')))
        return ref

    async def view(
        self,
        upstream: Upstream,
        bucket: str,
        key: str,
        profiles: Sequence[Profile],
        version_id: str | None = None,
    ) -> View:
        """The view of `key` (of its version `version_id` when given: an old
        version's view is made from that version's bytes, and makes no other
        view go, since the current one may still be read)."""
        names = tuple(p.name for p in profiles)
        fam = self.family(profiles)
        for _ in range(_RETRIES):
            head = await upstream.head_object(bucket, key, version_id=version_id)
            ver = version(head.etag, head.metadata)
            found = await self.find(upstream, bucket, fam, key, ver)
            if found is not None:
                self.counts["found"] += 1
                self.remember(bucket, fam, key, head.etag, found)
                return View(head, found, names, MaskSummary(profiles=names, complete=True))
            ident = building_id(bucket, fam, key, ver)
            pending = self._building.get(ident)
            if pending is not None:  # another request is computing this view
                try:
                    return await asyncio.shield(pending)
                except Abandoned:
                    continue  # its reader left, or the object changed: look again
            future = self.begin(ident)
            try:
                view = await self._build(upstream, bucket, key, head, fam, profiles, version_id)
            except errors.PreconditionFailed:
                self.settle(ident, future, Abandoned())
                continue  # the object changed between HEAD and GET: look again
            except BaseException as exc:
                self.settle(ident, future, exc)
                raise
            self.settle(ident, future, view)
            self.remember(bucket, fam, key, head.etag, view.ref)
            return view
        raise errors.ServiceUnavailable("The object kept changing while its view was computed")

    async def find(
        self, upstream: Upstream, bucket: str, fam: str, key: str, ver: str
    ) -> ViewRef | None:
        where = folder(fam, key)
        page = await upstream.list_objects(bucket, prefix=f"{where}{ver}/", max_keys=10)
        for obj in page.contents:
            tail = obj.key[len(where) + len(ver) + 1 :]
            match = TAIL.fullmatch(tail)
            if match is not None and obj.size == int(match.group(2)):
                return ViewRef(obj.key, obj.size, f'"{match.group(1)}"')
        return None

    async def _build(
        self,
        upstream: Upstream,
        bucket: str,
        key: str,
        head: ObjectHead,
        fam: str,
        profiles: Sequence[Profile],
        version_id: str | None = None,
    ) -> View:
        stream = await upstream.get_object(
            bucket, key, conditions=Conditions(if_match=head.etag), version_id=version_id
        )
        try:
            ref, summary = await self.store(
                upstream,
                bucket,
                key,
                head.etag,
                head.metadata,
                fam,
                profiles,
                stream.body,
                prune=version_id is None,
            )
        finally:
            await stream.aclose()
        return View(head, ref, tuple(p.name for p in profiles), summary, built=True)

    async def store(
        self,
        upstream: Upstream,
        bucket: str,
        key: str,
        etag: str,
        metadata: Metadata,
        fam: str,
        profiles: Sequence[Profile],
        source: AsyncIterator[bytes],
        *,
        when: str = "read",
        prune: bool = True,
    ) -> tuple[ViewRef, MaskSummary]:
        """Mask `source` (the stored bytes of `key` at `etag`) into the view's
        place in the store, and remove that key's views of other versions."""
        masker = self.masker(profiles, metadata, key)
        with self.spool() as spool:
            await spool.fill(masker.transform(source))
            ref = await self.put(upstream, bucket, key, etag, metadata, fam, masker.summary, spool)
        self.counts[when] += 1
        if prune:
            await self.prune(upstream, bucket, folder(fam, key), keep=version(etag, metadata))
        return ref, masker.summary

    def masker(
        self, profiles: Sequence[Profile], metadata: Metadata, key: str
    ) -> Masker | PooledMasker:
        """The masker of one view (its stored object's content type and coding):
        the service's (the worker pool when it runs), else inline."""
        return (self._maskers or self._inline)(
            profiles,
            content_type=metadata.get("content-type"),
            content_encoding=metadata.get("content-encoding"),
            key=key,
        )

    def spool(self) -> Spool:
        return Spool(self._spool_dir)

    async def put(
        self,
        upstream: Upstream,
        bucket: str,
        key: str,
        etag: str,
        metadata: Metadata,
        fam: str,
        summary: MaskSummary,
        spool: Spool,
    ) -> ViewRef:
        """A whole, successfully masked view (in `spool`) into its place.
        Only ever called after the last byte: a view's key names its MD5 and
        length, so a partial view cannot exist in the store under any key."""
        where = folder(fam, key)
        ver = version(etag, metadata)
        ref = ViewRef(
            f"{where}{ver}/{spool.md5_hex}-{spool.length}", spool.length, f'"{spool.md5_hex}"'
        )
        stored = {"content-type": metadata.get("content-type", "binary/octet-stream")}
        stored.update(summary_metadata(summary))
        await send_spool(upstream, bucket, ref.store_key, spool, stored, self._sizing)
        return ref

    def begin(self, ident: str) -> asyncio.Future[View]:
        """This request builds the view `ident`; others wait for it (`view`)."""
        future: asyncio.Future[View] = asyncio.get_running_loop().create_future()
        self._building[ident] = future
        return future

    def building(self, ident: str) -> bool:
        return ident in self._building

    def settle(
        self, ident: str, future: asyncio.Future[View], outcome: View | BaseException
    ) -> None:
        """The end of a build `begin` started: its view, or why there is none
        (`Abandoned`: waiters look again; any other error: they get it too)."""
        if self._building.get(ident) is future:
            del self._building[ident]
        if future.done():
            return
        if isinstance(outcome, View):
            future.set_result(outcome)
            return
        # A cancelled builder (its client left) is not an error for the others.
        future.set_exception(outcome if isinstance(outcome, Exception) else Abandoned())
        future.exception()  # retrieved: no "never retrieved" warning

    def _inline(
        self,
        profiles: Sequence[Profile],
        *,
        content_type: str | None,
        content_encoding: str | None,
        key: str,
    ) -> Masker:
        return Masker(
            profiles,
            content_type=content_type,
            content_encoding=content_encoding,
            key=key,
            limits=self.limits,
        )

    async def forget(self, upstream: Upstream, bucket: str, key: str) -> int:
        """Remove every view of `key`, in every family (after a delete); best
        effort (`masking.viewprune`)."""
        return await viewprune.forget(upstream, bucket, key)

    async def prune(self, upstream: Upstream, bucket: str, where: str, keep: str | None) -> int:
        """Remove the views in `where` (one key's folder) but those of version
        `keep`; best effort (`masking.viewprune`)."""
        return await viewprune.prune(upstream, bucket, where, keep)
