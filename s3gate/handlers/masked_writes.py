"""Writes under a `@mask` obligation: PutObject and CopyObject.

The body goes through the masker into a spool, and only a complete run is
sent upstream (exact length, SHA-256, MD5): a refusal or a failed signature
check part-way stores nothing. The stored object carries metadata naming the
profiles, the bundle and the count of replacements per detector — counts,
never values. The client's metadata and content headers are inspected by
the same profiles first (`masking.metadata`).

ETag convention for a masked PUT: when masking changed the bytes, the ETag
returned is the stored object's MD5 with a `-1` suffix. Clients such as s3cmd
and rclone compare a PUT's ETag with the MD5 of what they sent unless it
contains `-` (as multipart ETags do), so they do not report a corrupted
upload for content the gateway rewrote on purpose. When nothing was masked the
plain ETag is returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from s3gate import errors
from s3gate.handlers.call import Call
from s3gate.handlers.tagging import with_tags
from s3gate.masking import materialise
from s3gate.masking.metadata import check_key, mask_for_write
from s3gate.masking.spool import Spool
from s3gate.masking.stamp import HeldCatcher, finish_metadata, unstamped
from s3gate.s3.model import Conditions, CopyResult, PutResult
from s3gate.s3.tagging import TagSet
from s3gate.sigv4.checksums import Checksum, new_checksum
from s3gate.transform.errors import MaskingHeld
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary

# The masked writes whose whole result exists in one place before it is
# stored (the spool), so a `hold` match can keep it in quarantine instead: a
# PutObject, a CopyObject, and the Complete of a masked multipart upload (its
# parts are masked as one object there). An `@approval` policy obligation is
# only met by a PutObject (handlers/decide.py): the others refuse it before
# any byte moves.
HOLDABLE = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})


@dataclass(frozen=True)
class Stored:
    """What a masked write stored: the store's answer, and the SHA-256 of the
    bytes stored (the masked ones), for the record and the ETag convention."""

    result: PutResult
    sha256_hex: str


async def store_masked(
    call: Call,
    profiles: Sequence[Profile],
    source: AsyncIterator[bytes],
    metadata: dict[str, str],
    checksum: Checksum | None = None,
) -> Stored:
    """`source` through the masker into the spool, then — only if the whole
    run succeeded — to `call.key`, stamped (with the SHA-256 of the stored
    bytes, also in the call's tally). The shared step of every masked write. `checksum`, when
    given, is computed over the masked bytes and stored with them. A
    write that a `hold` rule matches (HOLDABLE), or a PutObject that needs an
    approval, goes to quarantine instead (approvals.service) and is answered
    HeldForApproval."""
    masker = call.masking.masker(
        profiles,
        content_type=metadata.get("content-type"),
        content_encoding=metadata.get("content-encoding"),
        key=call.key,
    )
    call.tally.mask_summary = masker.summary  # also when it refuses
    # Key and metadata first: a refusal costs no body work. Content headers
    # are refused, never rewritten, so the type and coding above still hold.
    plan = plan_for(profiles)
    check_key(call.key, plan, masker.summary)
    metadata = mask_for_write(metadata, plan, masker.summary)
    quarantine = call.approvals is not None and call.op.name in HOLDABLE
    with call.masking.spool() as spool:
        catcher = HeldCatcher()
        stream = _tap(masker.transform(source), checksum)
        await spool.fill(catcher.watch(stream) if quarantine else stream)
        if catcher.error is not None or call.needs_approval():
            await hold(call, spool, masker.summary, catcher.error, metadata)
        finish_metadata(metadata, masker.summary, call.bundle, spool.md5_hex)
        body = spool.body()
        if checksum is not None:
            body = replace(body, checksum=(checksum.algorithm, checksum.b64digest()))
        result = await call.upstream.put_object(call.bucket, call.key, body, metadata)
        call.tally.sha256_stored = spool.sha256_hex
        written = materialise.Written(
            upstream=call.upstream,
            views=call.masking.views,
            bundle=call.bundle,
            wanted=call.settings.views.materialise,
            bucket=call.bucket,
            key=call.key,
            etag=result.etag,
        )
        await materialise.at_write(written, spool)
        return Stored(result, spool.sha256_hex)


async def hold(
    call: Call,
    spool: Spool,
    summary: MaskSummary | None,
    held: MaskingHeld | None,
    metadata: dict[str, str],
) -> NoReturn:
    """Quarantine the spooled bytes (raises HeldForApproval); without an
    approvals service, the old refusal."""
    if call.approvals is None or call.op.name not in HOLDABLE:
        if held is not None:
            raise held
        raise errors.AccessDenied(
            "This request requires approval, which is only available for PutObject",
            resource=call.op.resource,
        )
    decision = call.decision
    await call.approvals.hold(
        bundle=call.bundle,
        principal=call.principal,
        bucket=call.bucket,
        key=call.key,
        spool=spool,
        summary=summary,
        held_rules=held.rule_ids if held is not None else (),
        approvals=decision.obligations.approvals if decision is not None else (),
        policy_ids=decision.policies if decision is not None and call.needs_approval() else (),
        metadata=metadata,
        context=call.policy_context,
        request_id=call.request_id,
    )


async def hold_unmasked(call: Call, metadata: dict[str, str]) -> NoReturn:
    """A PutObject under `@approval` with no `@mask`: the body as received
    (verified whole first) goes to quarantine, sealed."""
    call.declared_length()
    with call.masking.spool() as spool:
        await spool.fill(aiter(call.body))
        await hold(call, spool, None, None, metadata)


async def put_object(
    call: Call, profiles: Sequence[Profile], metadata: dict[str, str]
) -> tuple[PutResult, str, dict[str, str]]:
    """Store the masked body; returns the upstream result, the ETag to give
    the client (see the convention above) and the checksum headers: when the
    client sent a flexible checksum, the same algorithm over the bytes stored
    (never the client's value, which describes bytes nobody stored)."""
    call.declared_length()
    algorithm = call.body.checksum_algorithm
    checksum = new_checksum(algorithm) if algorithm is not None else None
    stored = await store_masked(call, profiles, aiter(call.body), metadata, checksum)
    result = stored.result
    changed = stored.sha256_hex != call.body.sha256_hex
    headers: dict[str, str] = {}
    if checksum is not None:
        headers[f"x-amz-checksum-{checksum.algorithm.lower()}"] = checksum.b64digest()
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    return result, (f'{result.etag[:-1]}-1"' if changed else result.etag), headers


async def _tap(pieces: AsyncIterator[bytes], checksum: Checksum | None) -> AsyncIterator[bytes]:
    async for piece in pieces:
        if checksum is not None:
            checksum.update(piece)
        yield piece


async def copy_object(
    call: Call,
    profiles: Sequence[Profile],
    source: tuple[str, str],
    metadata: dict[str, str] | None,
    conditions: Conditions,
    version_id: str | None = None,
    tags: TagSet = (),
) -> CopyResult:
    """The destination gets the source's bytes through every profile the
    decision named (the source's read view and the destination's write
    profile, composed). `metadata` None copies the source's; `tags` are the
    destination's (handlers.tagging), inspected with the metadata."""
    try:
        stream = await call.upstream.get_object(
            source[0], source[1], conditions=conditions, version_id=version_id
        )
    except errors.NotModified as exc:
        # For a copy source every failed condition is a 412, as S3 answers.
        raise errors.PreconditionFailed() from exc
    stored = unstamped(stream.head.metadata) if metadata is None else metadata
    stored = with_tags(stored, tags)
    try:
        result = (await store_masked(call, profiles, stream.body, stored)).result
    finally:
        await stream.aclose()
    head = await call.upstream.head_object(call.bucket, call.key)
    return CopyResult(result.etag, head.last_modified, result.version_id)
