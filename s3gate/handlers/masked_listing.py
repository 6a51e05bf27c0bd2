"""A listing page as a masked reader sees it: the views' Size and ETag.

For every key of the page the caller's *read* of it is decided (GetObject, on
the request's bundle). Where that read is masked, the entry shows the view's
size and ETag — what HEAD and GET of it return — never the stored object's,
whose MD5 and length would let the reader confirm a guess of a redacted value
offline. LastModified is the stored object's, as on HEAD and GET.

Where the read is not allowed at all (a principal that may list but not read,
such as a writer syncing its own uploads), the entry is the stored one — or,
where that principal's own masked write left a marker naming the stored
version, the size and MD5 of the bytes it sent (masking/sources.py; one more
index LIST per page), so that its sync client skips unchanged files. Where
the read is masked but the profile refuses the object (blocks binary
content, say), there is no view and the entry is left out.

Cost: the views' sizes and ETags are in their keys (see masking/viewkeys.py), so
a page of keys under one profile family costs one upstream LIST of the view
index (`views.listing_index_pages` at most), not a request per key; that LIST
is started beside the listing's own (`prefetch`), so their round trips
overlap; and what it said is remembered by the replica
(`views.index_cache_entries`), so a repeat listing needs no index LIST. Keys the
index scan does not cover are looked up one by one; keys without a view yet
(written around the gateway) get one built, `views.listing_builds` at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from s3gate.handlers.call import Call
from s3gate.masking import viewkeys, viewscan
from s3gate.masking.profiles import profiles_for
from s3gate.policy import model
from s3gate.s3.model import ListPage, ObjectInfo, VersionInfo
from s3gate.transform.errors import (
    MaskingBlocked,
    MaskingHeld,
    MaskLimitExceeded,
    UnreadableContent,
)
from s3gate.transform.profile import Profile

# What a profile answers for content it will not show: such keys have no view.
REFUSALS = (MaskingBlocked, MaskingHeld, MaskLimitExceeded, UnreadableContent)


@dataclass(frozen=True)
class Prefetch:
    """The view index where a listing starts, read while the listing is."""

    family: str
    entries: dict[str, list[viewkeys.Entry]]


async def prefetch(call: Call, prefix: str, after: str | None) -> Prefetch | None:
    """Speculatively, for a caller whose read of the listing's first key would
    be masked: one LIST of the view index from the listing's position, run
    beside the listing's own LIST so that the two round trips overlap. Only
    entries of keys the page then shows are ever used (`as_seen`)."""
    probe = after or prefix or "_"
    request = model.requests_for(
        call.principal, "GetObject", call.bucket, probe, call.policy_context
    )
    decision = call.bundle.decide(request[0])
    if not (decision.allowed and decision.obligations.masks):
        return None
    fam = call.masking.views.family(profiles_for(call.bundle, decision.obligations.masks))
    if call.masking.views.warm.get((call.bucket, fam, prefix)):
        return None  # the last page here came from this replica's memory
    base = f"{viewkeys.ROOT}{fam}/"
    page = await call.upstream.list_objects(
        call.bucket, prefix=base + prefix, after=base + after if after else None
    )
    return Prefetch(fam, viewscan.entries(page.contents, fam, None))


async def as_seen(
    call: Call, page: ListPage, prefix: str, ahead: Prefetch | None = None
) -> ListPage:
    if not page.contents:
        return page
    # One GetObject request per key: the first built by the model, the others
    # differ from it only in the resource.
    (first,) = model.requests_for(
        call.principal, "GetObject", call.bucket, page.contents[0].key, call.policy_context
    )
    requests = [first] + [
        replace(first, resource=model.Resource.object(call.bucket, o.key))
        for o in page.contents[1:]
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    unread: list[int] = []
    for i, decision in enumerate(call.bundle.decide_many(requests)):
        if decision.allowed and decision.obligations.masks:
            groups.setdefault(decision.obligations.masks, []).append(i)
        elif not decision.allowed:
            unread.append(i)
    if not groups and not unread:
        return page
    contents: list[ObjectInfo | None] = list(page.contents)

    async def masked(masks: tuple[str, ...], where: list[int]) -> None:
        profiles = profiles_for(call.bundle, masks)
        shown = await _views_of(call, profiles, [page.contents[i] for i in where], ahead, prefix)
        for i, entry in zip(where, shown, strict=True):
            contents[i] = entry

    async def sent_back() -> None:
        # Keys the caller may list but not read: what it sent itself, where a
        # marker of its own names the stored version (masking/sources.py).
        objects = [page.contents[i] for i in unread]
        sent = await call.masking.sources.lookup(
            call.upstream, call.bucket, call.principal, objects
        )
        for i, obj in zip(unread, objects, strict=True):
            if obj.key in sent:
                contents[i] = replace(obj, size=sent[obj.key].length, etag=sent[obj.key].etag)

    await asyncio.gather(
        *(masked(masks, where) for masks, where in groups.items()),
        *([sent_back()] if unread else []),
    )
    return replace(page, contents=[o for o in contents if o is not None])


def _match(found: dict[str, list[viewkeys.Entry]], obj: ObjectInfo) -> viewkeys.Entry | None:
    """The view of `obj`'s listed version, if exactly one is indexed (several:
    the same bytes under other content types — then HEAD decides)."""
    bare = obj.etag.strip('"')
    matches = [e for e in found.get(obj.key, []) if e.version.partition(".")[0] == bare]
    return matches[0] if len({e.version for e in matches}) == 1 else None


async def _views_of(
    call: Call,
    profiles: Sequence[Profile],
    objects: list[ObjectInfo],
    ahead: Prefetch | None,
    prefix: str,
) -> list[ObjectInfo | None]:
    """The entries as the caller sees them, in order; None: left out."""
    store = call.masking.views
    fam = store.family(profiles)
    refs: list[viewkeys.ViewRef | None] = [
        store.cached(call.bucket, fam, o.key, o.etag) for o in objects
    ]
    store.warm[(call.bucket, fam, prefix)] = all(r is not None for r in refs)
    if any(r is None for r in refs):
        found = dict(ahead.entries) if ahead is not None and ahead.family == fam else {}
        unresolved = [o.key for o, r in zip(objects, refs, strict=True) if r is None]
        if any(_match(found, objects[i]) is None for i, r in enumerate(refs) if r is None):
            limit = call.settings.views.listing_index_pages
            found.update(await viewscan.scan(call.upstream, call.bucket, fam, unresolved, limit))
        for i, obj in enumerate(objects):
            entry = _match(found, obj) if refs[i] is None else None
            if entry is not None:
                refs[i] = entry.ref
                store.remember(call.bucket, fam, obj.key, obj.etag, entry.ref)
    out: list[ObjectInfo | None] = [None] * len(objects)
    for i, (obj, ref) in enumerate(zip(objects, refs, strict=True)):
        if ref is not None:
            store.counts["found"] += 1
            out[i] = replace(obj, size=ref.length, etag=ref.etag)
    gate = asyncio.Semaphore(call.settings.views.listing_builds)

    async def one(i: int) -> None:
        obj = objects[i]
        if store.is_refused(call.bucket, fam, obj.key, obj.etag):
            return
        async with gate:
            try:
                view = await store.view(call.upstream, call.bucket, obj.key, profiles)
            except REFUSALS:
                # The profile refuses this object to this reader: it has no
                # view, so no size or ETag to show; the entry is left out
                # (its name the caller may see, which HEAD tells anyway).
                store.refuse(call.bucket, fam, obj.key, obj.etag)
                return
        out[i] = replace(
            objects[i], size=view.length, etag=view.etag, last_modified=view.head.last_modified
        )

    await asyncio.gather(*(one(i) for i, ref in enumerate(refs) if ref is None))
    return out


async def versions_as_seen(call: Call, versions: list[VersionInfo]) -> list[VersionInfo]:
    """A version listing as a masked reader sees it: each version whose read
    (GetObject of that version) is masked shows its own view's size and
    ETag, built from that version's bytes when there is none yet; a version
    the profile refuses is left out. Delete markers hold no bytes and are
    shown as they are. Unlike `as_seen` there is no index scan: each version
    not remembered by this replica costs a HEAD and a LIST of its view
    folder (version listings are for tools and clean-ups, not hot paths)."""
    objects = [v for v in versions if not v.delete_marker]
    if not objects:
        return versions
    (first,) = model.requests_for(
        call.principal, "GetObject", call.bucket, objects[0].key, call.policy_context
    )
    requests = [
        replace(
            first,
            resource=model.Resource.object(call.bucket, v.key),
            context=replace(first.context, version_id=v.version_id),
        )
        for v in objects
    ]
    masked: dict[int, tuple[str, ...]] = {}
    for v, decision in zip(objects, call.bundle.decide_many(requests), strict=True):
        if decision.allowed and decision.obligations.masks:
            masked[id(v)] = decision.obligations.masks
    if not masked:
        return versions
    store = call.masking.views
    gate = asyncio.Semaphore(call.settings.views.listing_builds)

    async def seen(v: VersionInfo) -> VersionInfo | None:
        masks = masked.get(id(v))
        if masks is None:
            return v
        profiles = profiles_for(call.bundle, masks)
        fam = store.family(profiles)
        ref = store.cached(call.bucket, fam, v.key, v.etag)
        if ref is not None:
            return replace(v, size=ref.length, etag=ref.etag)
        if store.is_refused(call.bucket, fam, v.key, v.etag):
            return None
        async with gate:
            try:
                view = await store.view(call.upstream, call.bucket, v.key, profiles, v.version_id)
            except REFUSALS:
                store.refuse(call.bucket, fam, v.key, v.etag)
                return None
        store.remember(call.bucket, fam, v.key, v.etag, view.ref)
        return replace(v, size=view.length, etag=view.etag)

    shown = await asyncio.gather(*(seen(v) for v in versions))
    return [v for v in shown if v is not None]
