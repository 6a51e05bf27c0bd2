"""Bucket-level operations and object listings."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from starlette.responses import Response

from s3gate.handlers import listencoding, masked_listing, visibility
from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.policy import model
from s3gate.s3 import bucketpages, listxml, xml
from s3gate.s3.model import ListPage
from s3gate.s3.operations import validate_bucket_name


async def list_buckets(call: Call) -> Response:
    """Only the buckets the caller may use at all, paged by the gateway
    (s3.bucketpages)."""
    query = bucketpages.parse(call.query)
    token = call.query.get("continuation-token")
    # An empty token is no token, as for ListObjectsV2.
    after = call.list_tokens.open(bucketpages.SEAL_SCOPE, token) if token else None
    buckets = await call.upstream.list_buckets()
    requests = model.bucket_requests(call.principal, [b.name for b in buckets], call.policy_context)
    shown = [b for b, ok in zip(buckets, call.allowed(requests), strict=True) if ok]
    region = call.settings.server.region
    found = bucketpages.page(shown, query, region, after)
    return xml_response(
        listxml.list_buckets(
            found.buckets,
            region=region if query.paged else None,
            token=None
            if found.last is None
            else call.list_tokens.seal(bucketpages.SEAL_SCOPE, found.last),
            prefix=query.prefix if query.paged else None,
        )
    )


async def create_bucket(call: Call) -> Response:
    xml.parse_create_bucket(await call.read_xml())
    validate_bucket_name(call.bucket)
    await call.upstream.create_bucket(call.bucket)
    return empty_response(headers={"location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> Response:
    await call.upstream.head_bucket(call.bucket)
    return empty_response(headers={"x-amz-bucket-region": call.settings.server.region})


async def delete_bucket(call: Call) -> Response:
    await call.upstream.delete_bucket(call.bucket)
    return empty_response(204)


async def get_bucket_location(call: Call) -> Response:
    await call.upstream.head_bucket(call.bucket)
    return xml_response(xml.location(call.settings.server.region))


def list_params(call: Call) -> listxml.ListParams:
    encoding = listencoding.asked(call.query.get("encoding-type"))
    return listxml.ListParams(
        bucket=call.bucket,
        prefix=call.query.get("prefix", ""),
        delimiter=call.query.get("delimiter") or None,
        max_keys=call.int_param("max-keys", 1000, high=1000),
        encoding_type=encoding,
    )


def _encoded(params: listxml.ListParams, page: ListPage, *echoed: str | None) -> listxml.ListParams:
    """`params` with the encoding the page must be written in."""
    names = [
        params.prefix,
        params.delimiter,
        *echoed,
        *(o.key for o in page.contents),
        *page.common_prefixes,
    ]
    encoding = listencoding.needed(params.encoding_type, names)
    return params if encoding == params.encoding_type else replace(params, encoding_type=encoding)


async def list_objects(call: Call) -> Response:
    params = list_params(call)
    marker = call.query.get("marker", "")
    after = call.list_tokens.open_marker(call.bucket, marker) if marker else None
    seen, ahead = await asyncio.gather(
        visibility.listing(call, params, after or None),
        masked_listing.prefetch(call, params.prefix, after or None),
    )
    page = await masked_listing.as_seen(call, seen.page, params.prefix, ahead)
    params = _encoded(params, page, marker, seen.next_marker)
    return xml_response(listxml.list_objects_v1(params, page, marker, seen.next_marker))


async def list_objects_v2(call: Call) -> Response:
    params = list_params(call)
    token = call.query.get("continuation-token")
    start_after = call.query.get("start-after")
    # An empty token is no token (S3 lists from the start and echoes it).
    after = call.list_tokens.open(call.bucket, token) if token else start_after
    seen, ahead = await asyncio.gather(
        visibility.listing(call, params, after or None),
        masked_listing.prefetch(call, params.prefix, after or None),
    )
    page = await masked_listing.as_seen(call, seen.page, params.prefix, ahead)
    params = _encoded(params, page, start_after)
    return xml_response(
        listxml.list_objects_v2(
            params,
            page,
            continuation_token=token,
            next_token=seen.next_token,
            start_after=start_after,
            fetch_owner=call.query.get("fetch-owner") == "true",
        )
    )
