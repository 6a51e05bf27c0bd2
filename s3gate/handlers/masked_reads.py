"""GET and HEAD under a `@mask` obligation: answered from the read view.

Conditions (If-Match, If-None-Match, …) are evaluated against the view's ETag
and the stored object's time; Range is a slice of the view, served by the
store (views are materialised there, see masking/views.py). The stored
metadata is shown through the read profiles too (`masking.metadata`). No checksum
header is sent: the store's checksums describe other bytes.

A plain GET (no Range, no condition, HTTP/1.1) of an object whose view does
not exist yet is answered *live* (`masking.live`): the masked bytes as they
are made, chunked, with no Content-Length and no ETag (neither is known
before the last byte), while the view is stored for the next reads. HEAD,
ranged and conditional GETs need the view's length or ETag, so they wait for
the view to be built (never answered from the stored object's size or ETag,
which describe bytes the reader may not see).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers import tagging
from s3gate.handlers.bodies import object_response
from s3gate.handlers.call import Call
from s3gate.masking import clientmeta
from s3gate.masking.live import LiveView, open_view
from s3gate.masking.metadata import mask_for_read
from s3gate.masking.viewsummary import summary_from
from s3gate.s3 import headers as h
from s3gate.s3 import partnumber
from s3gate.s3.model import ByteRange, ObjectHead, check_conditions, resolve_range
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile


def _headers(head: ObjectHead, etag: str | None, profiles: Sequence[Profile]) -> dict[str, str]:
    """`etag` None: a live view's (not known yet), so no ETag at all."""
    # The stored metadata through the read profiles (masked, or left out).
    metadata = mask_for_read(head.metadata, plan_for(profiles))
    out = h.object_headers(replace(head, metadata=metadata))
    out.pop("etag")  # the stored object's: never a masked reader's
    if etag is not None:
        out["etag"] = etag
    out.pop("x-amz-mp-parts-count", None)
    out.pop(h.TAG_COUNT, None)  # the store's count: see _with_tag_count
    clientmeta.describe(out, None if etag is None else etag.strip('"'))
    return out


def _may_go_live(call: Call) -> bool:
    """A GET that needs neither the view's length nor its ETag before its
    body, on a connection whose framing shows a cut-short body (chunked:
    HTTP/1.1; an HTTP/1.0 body ends when the connection does)."""
    if call.http_version == "1.0" or call.headers.get("range") is not None:
        return False
    if "partNumber" in call.query:
        return False
    conditions = h.conditions(call.headers)
    return not any(
        (
            conditions.if_match,
            conditions.if_none_match,
            conditions.if_modified_since,
            conditions.if_unmodified_since,
        )
    )


async def head_object(call: Call, profiles: Sequence[Profile]) -> Response:
    view = await call.masking.views.view(
        call.upstream, call.bucket, call.key, profiles, call.version_id
    )
    call.tally.mask_summary = view.summary
    check_conditions(h.conditions(call.headers), view.etag, view.head.last_modified)
    _one_part(partnumber.requested(call.query, call.headers.get("range")))
    out = _headers(view.head, view.etag, profiles)
    await _with_tag_count(call, out, view.head, profiles)
    out["content-length"] = str(view.length)
    return Response(b"", headers=out)


def _one_part(part: int | None) -> None:
    """A view is one object of one part, whatever the stored object's parts
    (their boundaries are the writer's, not the view's): part 1 is the whole
    view, any other is not satisfiable."""
    if part is not None and part != 1:
        raise errors.InvalidPartNumber()


async def _with_tag_count(
    call: Call, out: dict[str, str], head: ObjectHead, profiles: Sequence[Profile]
) -> None:
    count = await tagging.count_as_seen(call, head, profiles)
    if count:
        out[h.TAG_COUNT] = str(count)


async def get_object(call: Call, profiles: Sequence[Profile]) -> Response:
    views = call.masking.views
    if _may_go_live(call):
        found = await open_view(
            views, call.upstream, call.bucket, call.key, profiles, call.version_id
        )
        if isinstance(found, LiveView):
            return await _live(call, found, profiles)
        view = found
    else:
        view = await views.view(call.upstream, call.bucket, call.key, profiles, call.version_id)
    call.tally.mask_summary = view.summary
    check_conditions(h.conditions(call.headers), view.etag, view.head.last_modified)
    part = partnumber.requested(call.query, call.headers.get("range"))
    _one_part(part)
    out = _headers(view.head, view.etag, profiles)
    await _with_tag_count(call, out, view.head, profiles)
    first, last, status = 0, view.length - 1, 200
    wanted = h.parse_range(call.headers.get("range"))
    if part is not None and view.length:  # part 1: the whole view, as S3 answers it
        wanted = ByteRange(0, view.length - 1)
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


async def _live(call: Call, live: LiveView, profiles: Sequence[Profile]) -> Response:
    """The view as it is made (see the module doc); its masking summary is
    complete once the body is out."""
    call.tally.mask_summary = live.summary
    out = _headers(live.head, None, profiles)
    await _with_tag_count(call, out, live.head, profiles)
    h.apply_overrides(out, call.query)
    return await object_response(
        call.tally, live.pieces, None, status=200, headers=out, close=live.close
    )
