"""The gateway's entry points: HTTP facts → context → decision."""

from __future__ import annotations

from s3gate.policy.cedar import Bundle
from s3gate.policy.enforce import UNKNOWN_IP, authorize, context_from_http
from tests.unit.policy.helpers import NOON_MONDAY, session, static


def test_context_from_http() -> None:
    ctx = context_from_http(
        "PutObject",
        headers={
            "content-type": "application/json",
            "content-length": "1234",
            "x-amz-decoded-content-length": "1000",
            "range": "bytes=0-1",
        },
        query={"prefix": "ignored/"},
        client_ip="::ffff:10.0.0.7",
        tls=True,
        presigned=True,
        now=NOON_MONDAY,
    )
    assert ctx.content_length == 1000  # the decoded size of an aws-chunked body
    assert ctx.content_type == "application/json"
    assert ctx.list_prefix is None  # only listings have a prefix
    assert (ctx.tls, ctx.presigned, ctx.range) == (True, True, "bytes=0-1")
    listing = context_from_http(
        "ListObjectsV2",
        headers={},
        query={"prefix": "alpha/"},
        client_ip=None,
        tls=False,
        presigned=False,
        now=NOON_MONDAY,
    )
    assert listing.list_prefix == "alpha/" and listing.source_ip == UNKNOWN_IP
    assert listing.content_length is None
    bad = context_from_http(
        "GetObject",
        headers={"content-length": "12x"},
        query={},
        client_ip="/run/s3gate.sock",
        tls=False,
        presigned=False,
        now=NOON_MONDAY,
    )
    assert bad.source_ip == UNKNOWN_IP and bad.content_length is None


def test_authorize(example_bundle: Bundle) -> None:
    ctx = context_from_http(
        "CopyObject",
        headers={},
        query={},
        client_ip="10.0.0.7",
        tls=True,
        presigned=False,
        now=NOON_MONDAY,
    )
    dev = static("dev-admin", ("admins",))
    copy = authorize(
        example_bundle, dev, "CopyObject", "traces", "b.md", ctx, copy_source=("traces", "a.md")
    )
    assert copy.allowed
    assert copy.action == "GetObject+PutObject"
    assert copy.obligations.masks == ("write-default",)
    analyst = session("alice", "analyst", ("analysts",))
    read = authorize(example_bundle, analyst, "GetObject", "traces", "a.md", ctx)
    assert read.allowed and read.obligations.masks == ("analyst-view",)
    assert not authorize(example_bundle, analyst, "PutObject", "traces", "a.md", ctx).allowed
