"""Single-object operations: put, get, head, delete, copy, batch delete."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers import deletemarkers, masked_reads, masked_writes, tagging
from s3gate.handlers.bodies import object_response
from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.policy import model
from s3gate.s3 import headers as h
from s3gate.s3 import partnumber, xml
from s3gate.s3.copysource import split_copy_source
from s3gate.s3.model import DeleteOutcome
from s3gate.s3.operations import MAX_KEY_BYTES
from s3gate.s3.versionid import check_version_id


async def put_object(call: Call) -> Response:
    metadata = h.stored_metadata(call.headers)
    profiles = call.mask_profiles()
    if call.needs_approval() and not profiles:
        await masked_writes.hold_unmasked(call, metadata)  # raises HeldForApproval
    if profiles:
        result, etag, checksum = await masked_writes.put_object(call, profiles, metadata)
    else:
        result = await call.upstream.put_object(
            call.bucket, call.key, await call.stored_as_sent(), metadata
        )
        call.tally.sha256_stored = call.body.sha256_hex  # stored as received
        etag = result.etag
        # The stored bytes are the client's: its verified checksum describes them.
        checksum = call.checksum_headers()
        if checksum:
            checksum["x-amz-checksum-type"] = "FULL_OBJECT"
    out = {"etag": etag, **checksum}
    if result.version_id:
        out["x-amz-version-id"] = result.version_id
    return empty_response(headers=out)


async def head_object(call: Call) -> Response:
    profiles = call.mask_profiles()
    if profiles:
        return await masked_reads.head_object(call, profiles)
    head = await call.upstream.head_object(
        call.bucket,
        call.key,
        h.conditions(call.headers),
        checksum_mode=call.checksum_mode,
        version_id=call.version_id,
        part_number=partnumber.requested(call.query, call.headers.get("range")),
    )
    out = h.object_headers(head)
    out.update(head.checksums)
    out["content-length"] = str(head.size)
    return Response(b"", headers=out)


async def get_object(call: Call) -> Response:
    profiles = call.mask_profiles()
    if profiles:
        return await masked_reads.get_object(call, profiles)
    part = partnumber.requested(call.query, call.headers.get("range"))
    try:
        stream = await call.upstream.get_object(
            call.bucket,
            call.key,
            byte_range=h.parse_range(call.headers.get("range")),
            conditions=h.conditions(call.headers),
            checksum_mode=call.checksum_mode,
            version_id=call.version_id,
            part_number=part,
        )
    except (errors.NoSuchKey, errors.NoSuchVersion) as missing:
        raise await deletemarkers.explain_missing(call, missing) from None
    out = h.object_headers(stream.head)
    out["content-length"] = str(stream.content_length)
    if stream.content_range:
        out["content-range"] = stream.content_range
    else:  # whole-object checksums describe the whole object only
        out.update(stream.head.checksums)
    h.apply_overrides(out, call.query)
    return await object_response(
        call.tally,
        stream.body,
        stream.content_length,
        status=stream.status,
        headers=out,
        close=stream.aclose,
    )


async def delete_object(call: Call) -> Response:
    if "x-amz-mfa" in call.headers:
        raise errors.NotImplementedError_("s3gate does not implement MFA delete")
    done = await call.upstream.delete_object(call.bucket, call.key, version_id=call.version_id)
    await call.masking.views.forget(call.upstream, call.bucket, call.key)
    out: dict[str, str] = {}
    if done.version_id:
        out["x-amz-version-id"] = done.version_id
    if done.delete_marker:
        out["x-amz-delete-marker"] = "true"
    return empty_response(204, headers=out)


async def delete_objects(call: Call) -> Response:
    if "x-amz-mfa" in call.headers:
        raise errors.NotImplementedError_("s3gate does not implement MFA delete")
    items, quiet = xml.parse_delete(await call.read_xml())
    for key, vid in items:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise errors.KeyTooLongError()
        if vid is not None:
            check_version_id(vid)
    keys = [k for k, _ in items]
    # Decided per key, with the version each entry names in the context.
    requests = [
        replace(r, context=replace(r.context, version_id=vid))
        for r, (_, vid) in zip(
            model.delete_requests(call.principal, call.bucket, keys, call.policy_context),
            items,
            strict=True,
        )
    ]
    allowed = call.allowed(requests)
    permitted = [i for i, ok in zip(items, allowed, strict=True) if ok]
    done = (
        dict(
            zip(permitted, await call.upstream.delete_versions(call.bucket, permitted), strict=True)
        )
        if permitted
        else {}
    )
    denied = DeleteOutcome("", "AccessDenied", "Access Denied")
    outcomes = [
        done[i] if ok else replace(denied, key=i[0], version_id=i[1])
        for i, ok in zip(items, allowed, strict=True)
    ]
    for key in dict.fromkeys(k for (k, _), ok in zip(items, allowed, strict=True) if ok):
        await call.masking.views.forget(call.upstream, call.bucket, key)
    return xml_response(xml.delete_result(outcomes, quiet))


async def copy_object(call: Call) -> Response:
    src_bucket, src_key, src_version = split_copy_source(call.headers["x-amz-copy-source"])
    directive = call.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown metadata directive.")
    metadata = h.stored_metadata(call.headers) if directive == "REPLACE" else None
    conditions = h.conditions(call.headers, prefix="x-amz-copy-source-")
    profiles = call.mask_profiles()
    if profiles:
        tags = await tagging.destination_tags(call, (src_bucket, src_key), src_version)
        result = await masked_writes.copy_object(
            call, profiles, (src_bucket, src_key), metadata, conditions, src_version, tags
        )
    else:
        retags = await tagging.copy_tags(
            call, (src_bucket, src_key), src_version, metadata is not None
        )
        untagged = None if metadata is None else tagging.with_tags(metadata, ())
        result = await call.upstream.copy_object(
            src_bucket,
            src_key,
            call.bucket,
            call.key,
            metadata=untagged,
            conditions=conditions,
            src_version_id=src_version,
        )
        await tagging.retag(call, retags)
    # x-amz-version-id: the copy's own version; -copy-source-: the one read.
    out: dict[str, str] = {}
    if result.version_id:
        out["x-amz-version-id"] = result.version_id
    if src_version is not None:
        out["x-amz-copy-source-version-id"] = src_version
    return xml_response(xml.copy_result(result.etag, h.iso_date(result.last_modified)), headers=out)
