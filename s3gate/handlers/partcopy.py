"""UploadPartCopy: a part of an upload filled from (a range of) another object.

Decided as a read of the source (`GetObject`) and a write of the target
(`UploadPart`), both required, like CopyObject (policy/model.py). The bytes
always pass through the gateway — a ranged GET of the source streamed into
an UploadPart — so that they are what this principal may read and what the
upload may store, whatever the store:

- the source as this principal reads it: a reader under `@mask` gets the
  range of its read view (the view is masked whole, so a value is never cut
  in two by a range and missed in both halves); anyone else the stored bytes;
- into the upload as any part goes: a staged (masked) upload keeps it
  sealed with its other parts and masks the whole object at Complete with
  its write profiles; a plain upload gets it as is. A plain upload whose
  writer now needs masking is refused, as for UploadPart.

The store's own UploadPartCopy is never used: it would copy bytes the
gateway has not seen, past the reader's profile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers.call import Call, xml_response
from s3gate.masking.profiles import profiles_for
from s3gate.policy import model
from s3gate.s3 import headers as h
from s3gate.s3 import partcopy
from s3gate.s3.copysource import split_copy_source
from s3gate.s3.model import ByteRange, check_conditions, resolve_range
from s3gate.transform.profile import Profile
from s3gate.upstream.base import Body, ObjectStream

MAX_PART_NUMBER = 10000


async def upload_part_copy(call: Call) -> Response:
    number = call.int_param("partNumber", 0, low=1)
    if number > MAX_PART_NUMBER:
        raise errors.InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        )
    upload_id = call.query.get("uploadId", "")
    if not upload_id:
        raise errors.NoSuchUpload()
    src_bucket, src_key, version = split_copy_source(call.headers["x-amz-copy-source"])
    source = (src_bucket, src_key)
    wanted = partcopy.parse_range(call.headers.get(partcopy.RANGE_HEADER))
    read_profiles, write_profiles = _profiles(call, source)
    staging = call.masking.staging
    staged = staging.is_staged(upload_id)
    if write_profiles and not staged:
        # The part would reach the store in the clear.
        raise errors.AccessDenied(
            "This upload was created without the masking your policy now requires; "
            "start a new upload"
        )
    stream = await _open(call, source, version, read_profiles, wanted)
    try:
        if stream.content_length > call.settings.server.max_object_bytes:
            raise errors.EntityTooLarge(extra={"ProposedSize": str(stream.content_length)})
        body = Body(stream.body, stream.content_length)
        if staged:
            upload = staging.open_id(call.bucket, call.key, upload_id)
            etag = await staging.upload_part(call.upstream, upload, number, body)
        else:
            etag = await call.upstream.upload_part(call.bucket, call.key, upload_id, number, body)
    finally:
        await stream.aclose()
    return xml_response(partcopy.result(etag, h.iso_date(datetime.now(UTC))))


def _profiles(call: Call, source: tuple[str, str]) -> tuple[list[Profile], list[Profile]]:
    """The masks of the source read and of the target write, apart (the
    operation's decision merges them): decided again on the request's bundle
    and context, so they are the parts of that very decision."""
    requests = model.requests_for(
        call.principal,
        call.op.name,
        call.bucket,
        call.key,
        call.policy_context,
        copy_source=source,
    )
    read, write = call.bundle.decide_many(list(requests))
    if not (read.allowed and write.allowed):  # the merged decision allowed both
        raise errors.AccessDenied(resource=call.op.resource)
    return (
        profiles_for(call.bundle, read.obligations.masks) if read.obligations.masks else [],
        profiles_for(call.bundle, write.obligations.masks) if write.obligations.masks else [],
    )


async def _open(
    call: Call,
    source: tuple[str, str],
    version: str | None,
    profiles: Sequence[Profile],
    wanted: ByteRange | None,
) -> ObjectStream:
    """The source bytes this principal may read (of the source `version` when
    the copy names one), `wanted` range of them."""
    conditions = h.conditions(call.headers, prefix="x-amz-copy-source-")
    bucket, key = source
    if not profiles:
        try:
            return await call.upstream.get_object(
                bucket, key, byte_range=wanted, conditions=conditions, version_id=version
            )
        except errors.NotModified as exc:  # every failed copy condition is a 412
            raise errors.PreconditionFailed() from exc
    view = await call.masking.views.view(call.upstream, bucket, key, profiles, version)
    call.tally.mask_summary = view.summary
    check_conditions(conditions, view.etag, view.head.last_modified, for_copy=True)
    if wanted is None and view.length == 0:
        return ObjectStream(view.head, _nothing(), 0)
    first, last = resolve_range(wanted or ByteRange(0, None), view.length) or (0, view.length - 1)
    try:
        stream = await call.upstream.get_object(
            bucket, view.ref.store_key, byte_range=ByteRange(first, last)
        )
    except errors.NoSuchKey as exc:  # pruned by a newer version's view meanwhile
        raise errors.ServiceUnavailable("The view changed while it was read; please retry") from exc
    if stream.content_length != last - first + 1:
        await stream.aclose()
        raise errors.ServiceUnavailable("The view changed while it was read; please retry")
    return stream


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
