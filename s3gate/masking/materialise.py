"""Read views built at write time, so that the first read is as fast as any.

A masked write has just stored its bytes and still has them in its spool:
the views of the profiles in `views.materialise` are made from that spool
right away (no second download) and stored next to the object (see
masking/views.py). The stored object is HEADed first so that the view is
keyed by exactly the ETag and metadata every reader will see. A view that
cannot be made (its profile blocks this content, say) is left to the first
read, which reports the refusal to that reader; the write has succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from s3gate import errors
from s3gate.masking.profiles import PART
from s3gate.masking.spool import Spool
from s3gate.masking.views import ViewStore
from s3gate.policy.cedar import Bundle
from s3gate.transform.profile import MaskingProfiles
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate.masking")


@dataclass(frozen=True)
class Written:
    """The object a masked write has just stored, and where its views go.
    (Explicit arguments, not the handler's call: masking/ is a service that
    knows nothing of handlers/.)"""

    upstream: Upstream
    views: ViewStore
    bundle: Bundle  # the bundle the write was decided by: its profiles
    wanted: Sequence[str]  # `views.materialise`: profile names, `a+b` composed
    bucket: str
    key: str
    etag: str  # the ETag the store answered the write with


async def at_write(written: Written, spool: Spool) -> int:
    """Views of the written object's new bytes (in `spool`); returns how many
    were made. Never fails the write, which has succeeded: a view not made
    here is made by the first read."""
    try:
        return await _views(written, spool)
    except errors.S3Error as exc:
        log.warning("no view made at write time (%s); the first read builds it", exc.code)
        return 0


async def _views(written: Written, spool: Spool) -> int:
    loaded = written.bundle.extras.get(PART)
    wanted = written.wanted
    if not wanted or not isinstance(loaded, MaskingProfiles):
        return 0
    head = await written.upstream.head_object(written.bucket, written.key)
    etag = written.etag
    if head.etag != etag:  # overwritten meanwhile: let readers build theirs
        return 0
    made = 0
    store = written.views
    for entry in wanted:
        names = entry.split("+")
        if not all(name in loaded.names for name in names):
            continue
        profiles = [loaded.get(name) for name in names]
        try:
            await store.store(
                written.upstream,
                written.bucket,
                written.key,
                head.etag,
                head.metadata,
                store.family(profiles),
                profiles,
                spool.body().chunks,
                when="write",
            )
            made += 1
        except errors.S3Error as exc:
            log.info(
                "no %s view made at write time (%s); the first read builds it", entry, exc.code
            )
    return made
