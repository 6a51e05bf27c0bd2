"""Bucket tagging: Get/Put/DeleteBucketTagging.

Policed like PutBucketVersioning: changing a bucket's tags is an `admin`
action, reading them a bucket-level `list` (docs/policies.md). Tags are
content, the same as object tags (handlers/tagging.py): under a `@mask`
obligation PutBucketTagging stores them through the write profile (masked,
or the request refused with nothing changed) and GetBucketTagging answers
them through the read profile. S3's limits hold, with a bucket's 50 tags
instead of an object's 10. The store keeps them; nothing is cached.
"""

from __future__ import annotations

from starlette.responses import Response

from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.masking import tags as masked
from s3gate.s3 import tagxml
from s3gate.s3.tagging import MAX_BUCKET_TAGS
from s3gate.transform.plan import plan_for
from s3gate.transform.summary import MaskSummary


async def get_bucket_tagging(call: Call) -> Response:
    tags = await call.upstream.get_bucket_tagging(call.bucket)
    profiles = call.mask_profiles()
    if profiles:
        tags = masked.mask_for_read(tags, plan_for(profiles))
    return xml_response(tagxml.document(tags))


async def put_bucket_tagging(call: Call) -> Response:
    tags = tagxml.parse_xml(await call.read_xml(), max_tags=MAX_BUCKET_TAGS)
    profiles = call.mask_profiles()
    if profiles:
        plan = plan_for(profiles)
        summary = MaskSummary(profiles=plan.profile_names)
        call.tally.mask_summary = summary  # also when it refuses
        tags = masked.mask_for_write(tags, plan, summary, max_tags=MAX_BUCKET_TAGS)
    await call.upstream.put_bucket_tagging(call.bucket, tags)
    return empty_response(204)


async def delete_bucket_tagging(call: Call) -> Response:
    await call.upstream.delete_bucket_tagging(call.bucket)
    return empty_response(204)
