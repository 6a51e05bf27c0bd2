"""Removing the gateway's own objects for good, versioned bucket or not.

On a versioned bucket a plain delete only adds a delete marker: the bytes
stay, as a noncurrent version. The gateway's internal objects (staged parts,
quarantined holds, read views, leases, markers) must not outlive their use
that way, so they are removed with `purge`: every version and delete marker
of each key, named by version id. On an unversioned bucket the listing shows
each key once, as version `null`, and the cost is one version listing more
than a plain DeleteObjects would take.
"""

from __future__ import annotations

from s3gate.s3.model import DeleteOutcome
from s3gate.upstream.base import Upstream

# A purge lists the versions under the keys' common prefix; bounded, since the
# gateway calls it on one upload's, one hold's or one key's folder.
MAX_PAGES = 100


async def purge(upstream: Upstream, bucket: str, keys: list[str]) -> list[DeleteOutcome]:
    """Delete every version of every key in `keys` (a key with none: nothing).
    Outcomes of the version deletes; a failure is reported, not raised."""
    wanted = set(keys)
    if not wanted:
        return []
    prefix = _common_prefix(sorted(wanted))
    items: list[tuple[str, str | None]] = []
    key_marker: str | None = None
    version_marker: str | None = None
    for _ in range(MAX_PAGES):
        page = await upstream.list_object_versions(
            bucket, prefix=prefix, key_marker=key_marker, version_id_marker=version_marker
        )
        items += [(v.key, v.version_id) for v in page.versions if v.key in wanted]
        if not page.is_truncated or page.next_key_marker is None:
            break
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    if not items:
        return []
    return await upstream.delete_versions(bucket, items)


def _common_prefix(keys: list[str]) -> str:
    """The longest string every key starts with (sorted: first and last decide)."""
    first, last = keys[0], keys[-1]
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
