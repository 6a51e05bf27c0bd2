"""Writes under a `@mask` obligation: PutObject and CopyObject.

The body goes through the masker into a spool, and only a complete run is
sent upstream (exact length, SHA-256, MD5): a refusal or a failed signature
check part-way stores nothing. The stored object carries metadata naming the
profiles, the bundle and the count of replacements per detector — counts,
never values.

ETag convention for a masked PUT: when masking changed the bytes, the ETag
returned is the stored object's MD5 with a `-1` suffix. Clients such as s3cmd
and rclone compare a PUT's ETag with the MD5 of what they sent unless it
contains `-` (as multipart ETags do), so they do not report a corrupted
upload for content the gateway rewrote on purpose. When nothing was masked the
plain ETag is returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from s3gate import errors
from s3gate.handlers.call import Call
from s3gate.masking import clientmeta, materialise
from s3gate.policy.cedar import Bundle
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary
from s3gate.upstream.base import Conditions, CopyResult, Metadata, PutResult

_STAMP_PREFIX = "x-amz-meta-s3gate-"


def finish_metadata(
    metadata: dict[str, str], summary: MaskSummary, bundle: Bundle, stored_md5_hex: str
) -> None:
    """The stored object's metadata after masking: the masking stamp, and
    client content hashes describing the stored bytes (see clientmeta)."""
    metadata.update({f"x-amz-meta-{k}": v for k, v in summary.as_metadata().items()})
    metadata[_STAMP_PREFIX + "bundle"] = bundle.hash[:16]
    clientmeta.describe(metadata, stored_md5_hex)


def unstamped(metadata: Metadata) -> dict[str, str]:
    """Metadata without a previous masking stamp (a copy is stamped anew)."""
    return {k: v for k, v in metadata.items() if not k.startswith(_STAMP_PREFIX)}


async def store_masked(
    call: Call,
    profiles: Sequence[Profile],
    source: AsyncIterator[bytes],
    metadata: dict[str, str],
) -> PutResult:
    """`source` through the masker into the spool, then — only if the whole
    run succeeded — to `call.key`, stamped (SHA-256 of the stored bytes in
    `call.stats`). The shared step of every masked write."""
    masker = call.masking.masker(
        profiles,
        content_type=metadata.get("content-type"),
        content_encoding=metadata.get("content-encoding"),
        key=call.key,
    )
    call.stats["mask_summary"] = masker.summary  # also when it refuses
    with call.masking.spool() as spool:
        await spool.fill(masker.transform(source))
        finish_metadata(metadata, masker.summary, call.bundle, spool.md5_hex)
        result = await call.upstream.put_object(call.bucket, call.key, spool.body(), metadata)
        call.stats["sha256_stored"] = spool.sha256_hex
        await materialise.at_write(call, spool, result.etag)
        return result


async def put_object(
    call: Call, profiles: Sequence[Profile], metadata: dict[str, str]
) -> tuple[PutResult, str]:
    """Store the masked body; returns the upstream result and the ETag to
    give the client (see the convention above)."""
    call.declared_length()
    result = await store_masked(call, profiles, aiter(call.body), metadata)
    changed = call.stats["sha256_stored"] != call.body.sha256_hex
    return result, (f'{result.etag[:-1]}-1"' if changed else result.etag)


async def copy_object(
    call: Call,
    profiles: Sequence[Profile],
    source: tuple[str, str],
    metadata: dict[str, str] | None,
    conditions: Conditions,
) -> CopyResult:
    """The destination gets the source's bytes through every profile the
    decision named (the source's read view and the destination's write
    profile, composed). `metadata` None copies the source's."""
    try:
        stream = await call.upstream.get_object(source[0], source[1], conditions=conditions)
    except errors.NotModified as exc:
        # For a copy source every failed condition is a 412, as S3 answers.
        raise errors.PreconditionFailed() from exc
    stored = unstamped(stream.head.metadata) if metadata is None else metadata
    try:
        result = await store_masked(call, profiles, stream.body, stored)
    finally:
        await stream.aclose()
    head = await call.upstream.head_object(call.bucket, call.key)
    return CopyResult(result.etag, head.last_modified, result.version_id)
