"""Multipart uploads: create, parts, complete, abort, and their listings."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers import listencoding, masked_multipart, mpchecksums, visibility
from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.handlers.keepalive import KeepAliveResponse
from s3gate.s3 import headers as h
from s3gate.s3 import listxml, uploadpages, xml
from s3gate.s3.model import UploadInfo

MAX_PART_NUMBER = 10000


def _upload_id(call: Call) -> str:
    upload_id = call.query.get("uploadId", "")
    if not upload_id:
        raise errors.NoSuchUpload()
    return upload_id


async def create_multipart_upload(call: Call) -> Response:
    metadata = h.stored_metadata(call.headers)
    checksum = mpchecksums.choice(call.headers)
    profiles = call.mask_profiles()  # also checks that the named profiles exist
    if profiles:
        algorithm = checksum.get("x-amz-checksum-algorithm")
        upload_id = await masked_multipart.create(call, profiles, metadata, algorithm)
    else:
        upload_id = await call.upstream.create_multipart_upload(call.bucket, call.key, metadata)
    return xml_response(
        xml.initiate_multipart(call.bucket, call.key, upload_id), headers=checksum or None
    )


async def upload_part(call: Call) -> Response:
    number = call.int_param("partNumber", 0, low=1)
    if number > MAX_PART_NUMBER:
        raise errors.InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        )
    upload_id = _upload_id(call)
    staging = call.masking.staging
    if staging.is_staged(upload_id):
        upload = staging.open_id(call.bucket, call.key, upload_id)
        etag = await staging.upload_part(call.upstream, upload, number, await call.upstream_body())
        # The part staged is the client's, sealed: its verified checksum describes it.
        return empty_response(headers={"etag": etag, **call.checksum_headers()})
    elif call.mask_profiles():
        # Parts of an unmasked upload would reach the store in the clear.
        raise errors.AccessDenied(
            "This upload was created without the masking your policy now requires; "
            "start a new upload"
        )
    else:
        body = await call.upstream_body()
        etag = await call.upstream.upload_part(call.bucket, call.key, upload_id, number, body)
        call.tally.sha256_stored = call.body.sha256_hex  # stored as received
        # The part is stored as sent: its verified checksum describes it.
        return empty_response(headers={"etag": etag, **call.checksum_headers()})


async def complete_multipart_upload(call: Call) -> Response:
    upload_id = _upload_id(call)
    parts = xml.parse_complete(await call.read_xml())
    location = f"/{call.bucket}/{call.key}"
    if call.masking.staging.is_staged(upload_id):
        work = asyncio.ensure_future(masked_multipart.complete(call, upload_id, parts))
        interval = call.settings.masking.complete_keepalive_seconds
        await asyncio.wait({work}, timeout=interval)
        if not work.done():
            # Long: answer 200 now, spaces while it runs, then the document.
            return KeepAliveResponse(
                asyncio.ensure_future(_document(work, location, call)),
                request_id=call.request_id,
                resource=location,
                interval=interval,
            )
        done = work.result()
    elif call.mask_profiles():
        raise errors.AccessDenied(
            "This upload was created without the masking your policy now requires"
        )
    else:
        result = await call.upstream.complete_multipart_upload(
            call.bucket, call.key, upload_id, parts
        )
        stored = await mpchecksums.of_stored(call.upstream, call.bucket, call.key, result.etag)
        done = masked_multipart.Completed(result, stored)
    result = done.result
    out = {"x-amz-version-id": result.version_id} if result.version_id else None
    return xml_response(
        xml.complete_multipart(location, call.bucket, call.key, result.etag, done.checksum),
        headers=out,
    )


async def _document(
    work: asyncio.Future[masked_multipart.Completed], location: str, call: Call
) -> bytes:
    # The version id, a header in a quick answer, is not in the kept-alive one:
    # the headers are gone by then (HEAD of the key has it).
    done = await work
    return xml.complete_multipart(location, call.bucket, call.key, done.result.etag, done.checksum)


async def abort_multipart_upload(call: Call) -> Response:
    upload_id = _upload_id(call)
    staging = call.masking.staging
    if staging.is_staged(upload_id):
        await staging.discard(call.upstream, staging.open_id(call.bucket, call.key, upload_id))
    else:
        await call.upstream.abort_multipart_upload(call.bucket, call.key, upload_id)
    return empty_response(204)


async def list_parts(call: Call) -> Response:
    upload_id = _upload_id(call)
    max_parts = call.int_param("max-parts", 1000, high=1000)
    marker = call.int_param("part-number-marker", 0)
    staging = call.masking.staging
    if staging.is_staged(upload_id):
        upload = staging.open_id(call.bucket, call.key, upload_id)
        page = await staging.list_parts(call.upstream, upload, max_parts, marker)
    else:
        page = await call.upstream.list_parts(
            call.bucket, call.key, upload_id, max_parts=max_parts, part_number_marker=marker
        )
    return xml_response(
        listxml.list_parts(call.bucket, call.key, upload_id, page, max_parts, marker)
    )


async def list_multipart_uploads(call: Call) -> Response:
    encoding = listencoding.asked(call.query.get("encoding-type"))
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter") or None
    max_uploads = call.int_param("max-uploads", 1000, high=1000)
    key_marker = call.query.get("key-marker", "")
    upload_id_marker = call.query.get("upload-id-marker", "")
    opened_marker = call.list_tokens.open_marker(call.bucket, key_marker) if key_marker else None
    staged = await call.masking.staging.listed(call.upstream, call.bucket)
    if not staged:
        page = await call.upstream.list_multipart_uploads(
            call.bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_uploads=max_uploads,
            key_marker=opened_marker,
            upload_id_marker=upload_id_marker or None,
        )
    else:
        # Masked uploads wait staged in the gateway, not in the store: the
        # page is cut from both, merged, with S3's ordering and markers.
        page = uploadpages.page_of(
            [*await _all_uploads(call, prefix), *staged],
            prefix=prefix,
            delimiter=delimiter,
            max_uploads=max_uploads,
            key_marker=opened_marker,
            upload_id_marker=upload_id_marker or None,
        )
    page, next_key_marker = visibility.uploads(call, page)
    names = [prefix, delimiter, key_marker, next_key_marker]
    names += [u.key for u in page.uploads] + page.common_prefixes
    encoding = listencoding.needed(encoding, names)
    return xml_response(
        listxml.list_uploads(
            call.bucket,
            replace(page, next_key_marker=next_key_marker),
            prefix=prefix,
            delimiter=delimiter,
            max_uploads=max_uploads,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            encoding_type=encoding,
        )
    )


# A bucket's uploads in progress read whole when they must be merged with the
# staged ones; past this many the listing is refused rather than cut short.
MAX_MERGED_UPLOADS = 100_000


async def _all_uploads(call: Call, prefix: str) -> list[UploadInfo]:
    found: list[UploadInfo] = []
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = await call.upstream.list_multipart_uploads(
            call.bucket,
            prefix=prefix,
            delimiter=None,
            max_uploads=1000,
            key_marker=key_marker,
            upload_id_marker=id_marker,
        )
        found.extend(page.uploads)
        if len(found) > MAX_MERGED_UPLOADS:
            raise errors.ServiceUnavailable(
                "Too many multipart uploads in progress to list beside the masked ones"
            )
        if not page.is_truncated or not page.uploads:
            return found
        last = page.uploads[-1]
        key_marker = page.next_key_marker or last.key
        id_marker = page.next_upload_id_marker or last.upload_id
