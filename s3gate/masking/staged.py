"""Completing a masked multipart upload: the parts, in order, masked as one
object, spooled, then stored whole; the staging is removed afterwards."""

from __future__ import annotations

from s3gate import errors
from s3gate.handlers.call import Call
from s3gate.masking.profiles import profiles_for
from s3gate.masking.writes import store_masked
from s3gate.upstream.base import PutResult


async def complete(call: Call, upload_id: str, parts: list[tuple[int, str]]) -> PutResult:
    staging = call.masking.staging
    upload = staging.open_id(call.bucket, call.key, upload_id)
    metadata, masks = await staging.meta(call.upstream, upload)
    # The masks recorded at creation and any the policy requires now: both apply.
    now = call.decision.obligations.masks if call.decision is not None else ()
    names = tuple(dict.fromkeys([*masks, *now]))
    profiles = profiles_for(call.bundle, names)
    plaintext, total = await staging.plaintext(call.upstream, upload, parts)
    if total > call.settings.server.max_object_bytes:
        raise errors.EntityTooLarge(extra={"ProposedSize": str(total)})
    stored = await store_masked(call, profiles, plaintext, metadata)
    await staging.discard(call.upstream, upload)
    # A multipart-style ETag (never compared with an MD5 by clients).
    return PutResult(f'{stored.etag[:-1]}-{len(parts)}"', stored.version_id)
