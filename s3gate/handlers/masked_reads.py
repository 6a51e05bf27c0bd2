"""GET and HEAD under a `@mask` obligation: answered from the read view.

Conditions (If-Match, If-None-Match, …) are evaluated against the view's ETag
and the stored object's time; Range is a slice of the view, served by the
store (views are materialised there, see masking/views.py). The stored
metadata is shown through the read profiles too (`masking.metadata`). No checksum
header is sent: the store's checksums describe other bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers.bodies import object_response
from s3gate.handlers.call import Call
from s3gate.masking import clientmeta
from s3gate.masking.metadata import mask_for_read
from s3gate.masking.views import View, summary_from
from s3gate.s3 import headers as h
from s3gate.s3.model import ByteRange, check_conditions, resolve_range
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile


def _headers(view: View, profiles: Sequence[Profile]) -> dict[str, str]:
    # The stored metadata through the read profiles (masked, or left out).
    metadata = mask_for_read(view.head.metadata, plan_for(profiles))
    out = h.object_headers(replace(view.head, metadata=metadata))
    out["etag"] = view.etag
    out.pop("x-amz-mp-parts-count", None)
    clientmeta.describe(out, view.etag.strip('"'))
    return out


async def head_object(call: Call, profiles: Sequence[Profile]) -> Response:
    view = await call.masking.views.view(
        call.upstream, call.bucket, call.key, profiles, call.version_id
    )
    call.tally.mask_summary = view.summary
    check_conditions(h.conditions(call.headers), view.etag, view.head.last_modified)
    out = _headers(view, profiles)
    out["content-length"] = str(view.length)
    return Response(b"", headers=out)


async def get_object(call: Call, profiles: Sequence[Profile]) -> Response:
    view = await call.masking.views.view(
        call.upstream, call.bucket, call.key, profiles, call.version_id
    )
    call.tally.mask_summary = view.summary
    check_conditions(h.conditions(call.headers), view.etag, view.head.last_modified)
    out = _headers(view, profiles)
    first, last, status = 0, view.length - 1, 200
    wanted = h.parse_range(call.headers.get("range"))
    if wanted is not None:
        span = resolve_range(wanted, view.length)
        if span is not None:
            first, last = span
            status = 206
            out["content-range"] = f"bytes {first}-{last}/{view.length}"
    out["content-length"] = str(last - first + 1)
    h.apply_overrides(out, call.query)
    if view.length == 0:  # answered whole, as object_response would
        call.tally.returned_whole(b"")
        return Response(b"", status_code=status, headers=out)
    try:
        stream = await call.upstream.get_object(
            call.bucket, view.ref.store_key, byte_range=ByteRange(first, last)
        )
    except errors.NoSuchKey as exc:  # pruned by a newer version's view meanwhile
        raise errors.ServiceUnavailable("The view changed while it was read; please retry") from exc
    call.tally.mask_summary = summary_from(stream.head.metadata, view.profiles)
    if stream.content_length != last - first + 1:  # not the view we looked up
        await stream.aclose()
        raise errors.ServiceUnavailable("The view changed while it was read; please retry")
    return await object_response(
        call.tally,
        stream.body,
        last - first + 1,
        status=status,
        headers=out,
        close=stream.aclose,
    )
