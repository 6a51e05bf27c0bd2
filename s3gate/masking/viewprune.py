"""Removing views that can no longer be served: other versions of a key's
view (after a write), every view of a key (after a delete).

Best effort by design: a stale view is never served (its version does not
match the stored object's), it only takes room, so a failure here is logged
and never fails the request that triggered it.
"""

from __future__ import annotations

import logging

from s3gate import errors
from s3gate.masking.viewkeys import ROOT, folder
from s3gate.upstream.base import Upstream
from s3gate.upstream.purge import purge

log = logging.getLogger("s3gate.masking")
_PRUNE_PAGES = 2


async def forget(upstream: Upstream, bucket: str, key: str) -> int:
    """Remove every view of `key`, in every family (after a delete).
    Best effort: a view of a deleted object is never served (a new object
    under the key has another version), it only takes room."""
    removed = 0
    try:
        page = await upstream.list_objects(bucket, prefix=ROOT, delimiter="/")
        families = {d[len(ROOT) :].rstrip("/").removesuffix(".h") for d in page.common_prefixes}
        for fam in sorted(families):
            removed += await prune(upstream, bucket, folder(fam, key), keep=None)
    except errors.S3Error as exc:
        log.warning("could not remove the views of a deleted object: %s", exc.code)
    return removed


async def prune(upstream: Upstream, bucket: str, where: str, keep: str | None) -> int:
    """Remove the views in `where` (one key's folder) but those of version
    `keep`; best effort — a stale view is never served (its version does
    not match), it only takes room."""
    stale: list[str] = []
    after: str | None = None
    try:
        # Bounded: a key that is also a "directory" of others ("a" and
        # "a/b") has their views under its folder too; past this, stop.
        for _ in range(_PRUNE_PAGES):
            page = await upstream.list_objects(bucket, prefix=where, after=after)
            for obj in page.contents:
                rest = obj.key[len(where) :].split("/")
                if len(rest) == 2 and rest[0] != keep:  # deeper: other objects' views
                    stale.append(obj.key)
            if not page.is_truncated or page.next_after is None:
                break
            after = page.next_after
        if stale:  # every version (a versioned bucket keeps deleted ones)
            await purge(upstream, bucket, stale)
    except errors.S3Error as exc:
        log.warning("could not remove %d stale views: %s", len(stale), exc.code)
        return 0
    return len(stale)
