"""Starting and completing a masked multipart upload: the metadata is
inspected at the start; at Complete the parts, in order, are masked as one
object, spooled, then stored whole; the parts are removed afterwards.

Once per upload, whoever asks: a Complete that finds the upload being
completed — by this process or, through its lease in the store
(`Staging.claim`), by another replica — waits for that work and returns its
outcome; a Complete after the end returns the recorded outcome. Masking is
never started twice for one upload while its holder is alive.

Outcomes: success, and refusals of the content (blocked, too large: 4xx) are
recorded and final — the parts are removed, a retry gets the same answer
without masking again (a wrong part list is not final: the client may send
another). A server-side failure (5xx) releases the claim and
keeps the parts, so the client's retry completes the upload.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from s3gate import errors
from s3gate.handlers import mpchecksums
from s3gate.handlers.call import Call
from s3gate.handlers.masked_writes import store_masked
from s3gate.masking.metadata import check_key, mask_for_write
from s3gate.masking.profiles import profiles_for
from s3gate.masking.stagedparts import StagedUpload
from s3gate.s3.model import PutResult
from s3gate.sigv4.checksums import new_checksum
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary

# The client can fix these (another part list) or nothing is left to do.
_NOT_FINAL = (
    errors.InvalidPart,
    errors.InvalidPartOrder,
    errors.EntityTooSmall,
    errors.NoSuchUpload,
)
# How often a Complete waiting on another replica's work looks for its outcome.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Completed:
    """A completed upload, and the checksum of what was stored:
    (algorithm, base64 value, type), see handlers.mpchecksums."""

    result: PutResult
    checksum: tuple[str, str, str] | None = None


async def create(
    call: Call, profiles: Sequence[Profile], metadata: dict[str, str], algorithm: str | None
) -> str:
    """Start a staged upload. The metadata is inspected now (a refusal comes
    before any part is sent) and again at Complete, with the profiles then.
    The checksum algorithm asked for is recorded with it (mpchecksums)."""
    assert call.decision is not None
    plan = plan_for(profiles)
    check_key(call.key, plan, MaskSummary(profiles=()))
    masked = mask_for_write(metadata, plan, MaskSummary(profiles=()))
    if algorithm is not None:
        masked[mpchecksums.STAGED_ALGORITHM] = algorithm
    return await call.masking.staging.create(
        call.upstream, call.bucket, call.key, masked, call.decision.obligations.masks
    )


async def complete(call: Call, upload_id: str, parts: list[tuple[int, str]]) -> Completed:
    staging = call.masking.staging
    upload = staging.open_id(call.bucket, call.key, upload_id)
    task = staging.running.get(upload.staging_id)
    if task is None:
        task = asyncio.ensure_future(_once(call, upload, parts))
        staging.running[upload.staging_id] = task
        task.add_done_callback(lambda _: staging.running.pop(upload.staging_id, None))
    # Shielded: a client that leaves does not stop the work others wait on.
    return _result(await asyncio.shield(task))


def _result(outcome: dict[str, object]) -> Completed:
    code = outcome.get("code")
    if code is not None:
        status = outcome.get("status")
        raise errors.from_code(
            str(code), int(status) if isinstance(status, int) else 400, str(outcome.get("message"))
        )
    version = outcome.get("version_id")
    result = PutResult(str(outcome["etag"]), str(version) if version is not None else None)
    checksum = outcome.get("checksum")  # absent in outcomes of older gateways
    if isinstance(checksum, list) and len(checksum) == 2:
        return Completed(result, (str(checksum[0]), str(checksum[1]), "FULL_OBJECT"))
    return Completed(result)


async def _once(
    call: Call, upload: StagedUpload, parts: list[tuple[int, str]]
) -> dict[str, object]:
    staging = call.masking.staging
    while True:
        recorded = await staging.outcome(call.upstream, upload)
        if recorded is not None:
            return recorded
        number = await staging.claim(call.upstream, upload, call.request_id)
        if number is not None:
            return await _as_holder(call, upload, parts, number)
        await asyncio.sleep(POLL_SECONDS)  # another replica is at it


async def _as_holder(
    call: Call, upload: StagedUpload, parts: list[tuple[int, str]], number: int
) -> dict[str, object]:
    staging = call.masking.staging
    renewing = asyncio.ensure_future(_renew(call, upload, number))
    try:
        try:
            result, checksum = await _mask_and_store(call, upload, parts)
        except errors.S3Error as exc:
            if exc.status >= 500 or isinstance(exc, _NOT_FINAL):
                raise
            outcome: dict[str, object] = {
                "code": exc.error_code,
                "status": exc.status,
                "message": exc.message,
            }
        else:
            outcome = {"etag": result.etag, "version_id": result.version_id, "checksum": checksum}
        await staging.record_outcome(call.upstream, upload, outcome)
    except BaseException:
        renewing.cancel()
        with contextlib.suppress(errors.S3Error):
            await staging.release(call.upstream, upload, number)
        raise
    renewing.cancel()
    await staging.discard_parts(call.upstream, upload)
    return await staging.outcome(call.upstream, upload) or outcome


async def _renew(call: Call, upload: StagedUpload, number: int) -> None:
    staging = call.masking.staging
    while True:
        await asyncio.sleep(staging.lease_seconds / 3)
        with contextlib.suppress(errors.S3Error):  # the next renewal may get through
            await staging.renew(call.upstream, upload, number, call.request_id)


async def _mask_and_store(
    call: Call, upload: StagedUpload, parts: list[tuple[int, str]]
) -> tuple[PutResult, list[str]]:
    """The stored result and [algorithm, value] of the masked bytes' checksum."""
    staging = call.masking.staging
    metadata, masks = await staging.meta(call.upstream, upload)
    checksum = new_checksum(mpchecksums.staged_algorithm(metadata))
    # The masks recorded at creation and any the policy requires now: both apply.
    now = call.decision.obligations.masks if call.decision is not None else ()
    names = tuple(dict.fromkeys([*masks, *now]))
    profiles = profiles_for(call.bundle, names)
    plaintext, total = await staging.plaintext(call.upstream, upload, parts)
    if total > call.settings.server.max_object_bytes:
        raise errors.EntityTooLarge(extra={"ProposedSize": str(total)})
    stored = (await store_masked(call, profiles, plaintext, metadata, checksum)).result
    # A multipart-style ETag (never compared with an MD5 by clients).
    result = PutResult(f'{stored.etag[:-1]}-{len(parts)}"', stored.version_id)
    return result, [checksum.algorithm, checksum.b64digest()]
