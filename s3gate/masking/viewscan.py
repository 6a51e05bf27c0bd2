"""One range of an index read in order: the view entries of many keys of
one profile family (see masking/viewkeys.py for the index's layout), or one
writer's sources markers (masking/sources.py), in a few LISTs. Used by
masked listings (handlers/masked_listing.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from s3gate.masking import viewkeys
from s3gate.s3.model import ObjectInfo
from s3gate.upstream.base import Upstream


def entries(
    listed: Sequence[ObjectInfo], fam: str, wanted: set[str] | None
) -> dict[str, list[viewkeys.Entry]]:
    """The view-index entries among listed keys (of `wanted` keys, or all)."""
    out: dict[str, list[viewkeys.Entry]] = {}
    for obj in listed:
        entry = viewkeys.parse(obj.key, fam)
        if entry is None or entry.ref.length != obj.size:
            continue
        if wanted is None or entry.key in wanted:
            out.setdefault(entry.key, []).append(entry)
    return out


async def scan(
    upstream: Upstream, bucket: str, fam: str, keys: list[str], max_calls: int
) -> dict[str, list[viewkeys.Entry]]:
    """Index entries of `keys` in family `fam`: one range of the view index,
    from the first key's folder to past the last key's, read in order."""
    base = f"{viewkeys.ROOT}{fam}/"
    return entries(await scan_range(upstream, bucket, base, keys, max_calls), fam, set(keys))


async def scan_range(
    upstream: Upstream, bucket: str, base: str, keys: list[str], max_calls: int
) -> list[ObjectInfo]:
    """The objects of an index laid out as `base + key + "/" + …` (the view
    index of one family, one writer's sources) from the first of `keys`'
    folders to past the last one's, in at most `max_calls` LISTs."""
    if not keys:
        return []
    ordered = sorted(keys, key=str.encode)
    # Every folder `base + k + "/"` with first <= k <= last sorts after
    # `base + first` and before `base + last + "0"` ("/" < "0").
    after: str | None = base + ordered[0]
    stop = (base + ordered[-1] + "0").encode()
    prefix = base + _common_prefix(ordered[0], ordered[-1])
    out: list[ObjectInfo] = []
    for _ in range(max_calls):
        page = await upstream.list_objects(bucket, prefix=prefix, after=after)
        inside = [o for o in page.contents if o.key.encode() < stop]
        out.extend(inside)
        if len(inside) < len(page.contents):
            return out
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
