"""Starting and completing a masked multipart upload: the metadata is
inspected at the start; at Complete the parts, in order, are masked as one
object, spooled, then stored whole; the staging is removed afterwards."""

from __future__ import annotations

from collections.abc import Sequence

from s3gate import errors
from s3gate.handlers.call import Call
from s3gate.masking.metadata import mask_for_write
from s3gate.masking.profiles import profiles_for
from s3gate.masking.writes import store_masked
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary
from s3gate.upstream.base import PutResult


async def create(call: Call, profiles: Sequence[Profile], metadata: dict[str, str]) -> str:
    """Start a staged upload. The metadata is inspected now (a refusal comes
    before any part is sent) and again at Complete, with the profiles then."""
    assert call.decision is not None
    masked = mask_for_write(metadata, plan_for(profiles), MaskSummary(profiles=()))
    return await call.masking.staging.create(
        call.upstream, call.bucket, call.key, masked, call.decision.obligations.masks
    )


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
