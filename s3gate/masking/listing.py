"""A listing page as a masked reader sees it: the views' Size and ETag.

For every key of the page the caller's *read* of it is decided (GetObject, on
the request's bundle). Where that read is masked, the entry shows the view's
size and ETag — what HEAD and GET of it return — never the stored object's,
whose MD5 and length would let the reader confirm a guess of a redacted value
offline. LastModified is the stored object's, as on HEAD and GET.

Where the read is not allowed at all (a principal that may list but not read,
such as a writer syncing its own uploads), the entry is the stored one.

Cost: the views' sizes and ETags are in their keys (see masking/views.py), so
a page of keys under one profile family costs one upstream LIST of the view
index (`views.listing_index_pages` at most), not a request per key. Keys the
index scan does not cover are looked up one by one; keys without a view yet
(written around the gateway) get one built, `views.listing_builds` at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from s3gate.handlers.call import Call
from s3gate.masking import views
from s3gate.masking.profiles import profiles_for
from s3gate.policy import model
from s3gate.transform.profile import Profile
from s3gate.upstream.base import ListPage, ObjectInfo, Upstream


async def as_seen(call: Call, page: ListPage) -> ListPage:
    if not page.contents:
        return page
    requests = [
        model.requests_for(call.principal, "GetObject", call.bucket, o.key, call.policy_context)[0]
        for o in page.contents
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, decision in enumerate(call.bundle.decide_many(requests)):
        if decision.allowed and decision.obligations.masks:
            groups.setdefault(decision.obligations.masks, []).append(i)
    if not groups:
        return page
    contents = list(page.contents)
    for masks, where in groups.items():
        profiles = profiles_for(call.bundle, masks)
        shown = await _views_of(call, profiles, [contents[i] for i in where])
        for i, entry in zip(where, shown, strict=True):
            contents[i] = entry
    return replace(page, contents=contents)


async def _views_of(
    call: Call, profiles: Sequence[Profile], objects: list[ObjectInfo]
) -> list[ObjectInfo]:
    store = call.masking.views
    fam = store.family(profiles)
    limit = call.settings.views.listing_index_pages
    found = await scan(call.upstream, call.bucket, fam, [o.key for o in objects], limit)
    out: list[ObjectInfo | None] = [None] * len(objects)
    missing: list[int] = []
    for i, obj in enumerate(objects):
        bare = obj.etag.strip('"')
        matches = [e for e in found.get(obj.key, []) if e.version.partition(".")[0] == bare]
        if len({e.version for e in matches}) == 1:
            store.counts["found"] += 1
            out[i] = replace(obj, size=matches[0].ref.length, etag=matches[0].ref.etag)
        else:  # none, or views of the same bytes under other content types
            missing.append(i)
    gate = asyncio.Semaphore(call.settings.views.listing_builds)

    async def one(i: int) -> None:
        async with gate:
            view = await store.view(call.upstream, call.bucket, objects[i].key, profiles)
        out[i] = replace(
            objects[i], size=view.length, etag=view.etag, last_modified=view.head.last_modified
        )

    await asyncio.gather(*(one(i) for i in missing))
    return [o for o in out if o is not None]


async def scan(
    upstream: Upstream, bucket: str, fam: str, keys: list[str], max_calls: int
) -> dict[str, list[views.Entry]]:
    """Index entries of `keys` in family `fam`: one range of the view index,
    from the first key's folder to past the last key's, read in order."""
    if not keys:
        return {}
    wanted = set(keys)
    ordered = sorted(keys, key=str.encode)
    base = f"{views.ROOT}{fam}/"
    # Every folder `base + k + "/"` with first <= k <= last sorts after
    # `base + first` and before `base + last + "0"` ("/" < "0").
    after: str | None = base + ordered[0]
    stop = (base + ordered[-1] + "0").encode()
    prefix = base + _common_prefix(ordered[0], ordered[-1])
    out: dict[str, list[views.Entry]] = {}
    for _ in range(max_calls):
        page = await upstream.list_objects(bucket, prefix=prefix, after=after)
        for obj in page.contents:
            if obj.key.encode() >= stop:
                return out
            entry = views.parse(obj.key, fam)
            if entry is not None and entry.key in wanted and entry.ref.length == obj.size:
                out.setdefault(entry.key, []).append(entry)
        if not page.is_truncated or page.next_after is None:
            break
        after = page.next_after
    return out


def _common_prefix(first: str, last: str) -> str:
    """The longest string prefix of every key between `first` and `last`."""
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
