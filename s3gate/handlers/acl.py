"""ACL operations: the private ACL is all there is (see s3.acl for why)."""

from __future__ import annotations

from starlette.responses import Response

from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.s3 import acl
from s3gate.s3.model import Conditions


async def get_object_acl(call: Call) -> Response:
    # The object must exist (NoSuchKey otherwise), as S3 answers.
    await call.upstream.head_object(call.bucket, call.key, Conditions())
    return xml_response(acl.private_policy())


async def get_bucket_acl(call: Call) -> Response:
    await call.upstream.head_bucket(call.bucket)
    return xml_response(acl.private_policy())


async def _check_put(call: Call) -> None:
    # The canned / grant headers were checked with the request (gateway); a
    # body, when there is one, must be the private ACL too.
    body = await call.read_xml()
    if body.strip():
        acl.check_policy_document(body)


async def put_object_acl(call: Call) -> Response:
    await _check_put(call)
    await call.upstream.head_object(call.bucket, call.key, Conditions())
    return empty_response()


async def put_bucket_acl(call: Call) -> Response:
    await _check_put(call)
    await call.upstream.head_bucket(call.bucket)
    return empty_response()
