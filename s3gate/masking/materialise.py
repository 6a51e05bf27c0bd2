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
from typing import TYPE_CHECKING

from s3gate import errors
from s3gate.masking.profiles import PART
from s3gate.masking.spool import Spool
from s3gate.transform.profile import MaskingProfiles

if TYPE_CHECKING:  # only annotations: handlers import masking, not the reverse
    from s3gate.handlers.call import Call

log = logging.getLogger("s3gate.masking")


async def at_write(call: Call, spool: Spool, etag: str) -> int:
    """Views of `call.key`'s new bytes (in `spool`); returns how many were made.
    Never fails the write, which has succeeded: a view not made here is made
    by the first read."""
    try:
        return await _views(call, spool, etag)
    except errors.S3Error as exc:
        log.warning("no view made at write time (%s); the first read builds it", exc.code)
        return 0


async def _views(call: Call, spool: Spool, etag: str) -> int:
    loaded = call.bundle.extras.get(PART)
    wanted = call.settings.views.materialise
    if not wanted or not isinstance(loaded, MaskingProfiles):
        return 0
    head = await call.upstream.head_object(call.bucket, call.key)
    if head.etag != etag:  # overwritten meanwhile: let readers build theirs
        return 0
    made = 0
    store = call.masking.views
    for entry in wanted:
        names = entry.split("+")
        if not all(name in loaded.names for name in names):
            continue
        profiles = [loaded.get(name) for name in names]
        try:
            await store.store(
                call.upstream,
                call.bucket,
                call.key,
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
