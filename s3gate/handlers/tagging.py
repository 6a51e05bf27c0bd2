"""Object tagging: Get/Put/DeleteObjectTagging, and the tags of a copy.

Tags are content (`masking.tags`): under a `@mask` obligation a
PutObjectTagging stores them through the write profile (masked, or the
request refused) and a GetObjectTagging answers them through the read
profile, computed on each call (a tag set is at most 10 short values, so no
shared view is kept). DeleteObjectTagging carries no content.

A CopyObject's tags follow `x-amz-tagging-directive`: COPY (the default)
keeps the source's, REPLACE takes the request's `x-amz-tagging` (none: no
tags). `destination_tags` says which; `copy_tags` applies them around an
unmasked store-side copy; a masked copy stores them with its metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response

from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.masking import tags as masked
from s3gate.s3 import tagging, tagxml
from s3gate.s3.model import ObjectHead
from s3gate.s3.tagging import TagSet
from s3gate.transform.errors import MaskingBlocked, MaskingHeld
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.summary import MaskSummary


async def get_object_tagging(call: Call) -> Response:
    tags = await call.upstream.get_object_tagging(call.bucket, call.key)
    profiles = call.mask_profiles()
    if profiles:
        tags = masked.mask_for_read(tags, plan_for(profiles))
    return xml_response(tagxml.document(tags))


async def count_as_seen(call: Call, head: ObjectHead, profiles: Sequence[Profile]) -> int:
    """A masked reader's `x-amz-tagging-count`: the number of tags its
    GetObjectTagging would show (tags whose key holds a finding are not
    shown), never the store's count of tags it may not see. One
    GetObjectTagging of the version read, only when the store counts any;
    tags the read profile would block or hold count as none (fail closed:
    the header is left out)."""
    if not head.tag_count:
        return 0
    tags = await call.upstream.get_object_tagging(call.bucket, call.key, version_id=call.version_id)
    try:
        return len(masked.mask_for_read(tags, plan_for(profiles)))
    except (MaskingBlocked, MaskingHeld):
        return 0


async def put_object_tagging(call: Call) -> Response:
    tags = tagxml.parse_xml(await call.read_xml())
    profiles = call.mask_profiles()
    if profiles:
        plan = plan_for(profiles)
        summary = MaskSummary(profiles=plan.profile_names)
        call.tally.mask_summary = summary  # also when it refuses
        tags = masked.mask_for_write(tags, plan, summary)
    await call.upstream.put_object_tagging(call.bucket, call.key, tags)
    return empty_response()


async def delete_object_tagging(call: Call) -> Response:
    await call.upstream.delete_object_tagging(call.bucket, call.key)
    return empty_response(204)


# ---- CopyObject ---------------------------------------------------------------------


def requested(call: Call) -> TagSet | None:
    """The request's tags for the destination; None for the COPY directive."""
    if tagging.directive(call.headers.get(tagging.DIRECTIVE_HEADER)) == "COPY":
        return None
    return tagging.parse_header(call.headers.get(tagging.HEADER, ""))


async def destination_tags(
    call: Call, source: tuple[str, str], version_id: str | None = None
) -> TagSet:
    """The tags the destination gets: the request's (REPLACE) or the source's
    (the source version's, when the copy names one)."""
    chosen = requested(call)
    if chosen is not None:
        return chosen
    return await call.upstream.get_object_tagging(*source, version_id=version_id)


def with_tags(metadata: dict[str, str], tags: TagSet) -> dict[str, str]:
    """`metadata` carrying exactly `tags` (as its `x-amz-tagging` value)."""
    out = {k: v for k, v in metadata.items() if k != tagging.HEADER}
    if tags:
        out[tagging.HEADER] = tagging.header_value(tags)
    return out


async def copy_tags(
    call: Call, source: tuple[str, str], version_id: str | None, metadata_replaced: bool
) -> TagSet | None:
    """For an unmasked copy, before it: the tags to set on the destination
    after the store's copy, or None when the store's own copy of the source's
    tags is right (both directives COPY). Otherwise the copy goes without
    tags in its metadata and `retag` sets them, the same way for every store
    (a store keeping tags in the metadata would lose them on REPLACE)."""
    if requested(call) is None and not metadata_replaced:
        return None
    return await destination_tags(call, source, version_id)


async def retag(call: Call, tags: TagSet | None) -> None:
    if tags is None:
        return
    if tags:
        await call.upstream.put_object_tagging(call.bucket, call.key, tags)
    else:
        await call.upstream.delete_object_tagging(call.bucket, call.key)
