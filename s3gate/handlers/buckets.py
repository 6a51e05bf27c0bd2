"""Bucket-level operations and object listings."""

from __future__ import annotations

import base64
import binascii

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.s3 import xml
from s3gate.s3.operations import validate_bucket_name

_TOKEN_PREFIX = "1:"  # noqa: S105 - a format version, not a secret


async def list_buckets(call: Call) -> Response:
    buckets = await call.upstream.list_buckets()
    return xml_response(xml.list_buckets(buckets))


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


def _list_params(call: Call) -> xml.ListParams:
    encoding = call.query.get("encoding-type") or None
    if encoding not in (None, "url"):
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request")
    return xml.ListParams(
        bucket=call.bucket,
        prefix=call.query.get("prefix", ""),
        delimiter=call.query.get("delimiter") or None,
        max_keys=call.int_param("max-keys", 1000, high=1000),
        encoding_type=encoding,
    )


async def list_objects(call: Call) -> Response:
    params = _list_params(call)
    marker = call.query.get("marker", "")
    page = await call.upstream.list_objects(
        call.bucket,
        prefix=params.prefix,
        delimiter=params.delimiter,
        max_keys=params.max_keys,
        after=marker or None,
    )
    return xml_response(xml.list_objects_v1(params, page, marker))


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode((_TOKEN_PREFIX + after).encode()).decode()


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(_TOKEN_PREFIX):
        raise errors.InvalidArgument("The continuation token provided is incorrect")
    return raw[len(_TOKEN_PREFIX) :]


async def list_objects_v2(call: Call) -> Response:
    params = _list_params(call)
    token = call.query.get("continuation-token")
    start_after = call.query.get("start-after")
    after = decode_token(token) if token is not None else (start_after or None)
    page = await call.upstream.list_objects(
        call.bucket,
        prefix=params.prefix,
        delimiter=params.delimiter,
        max_keys=params.max_keys,
        after=after,
    )
    next_token = (
        encode_token(page.next_after) if page.is_truncated and page.next_after is not None else None
    )
    return xml_response(
        xml.list_objects_v2(
            params,
            page,
            continuation_token=token,
            next_token=next_token,
            start_after=start_after,
            fetch_owner=call.query.get("fetch-owner") == "true",
        )
    )
