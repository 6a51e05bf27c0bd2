"""Requests → Cedar entities and context, and their agreement with the schema."""

from __future__ import annotations

import json
import re
from datetime import datetime

import cedarpy
import pytest

from s3gate.policy import entities as ent
from s3gate.policy import model
from s3gate.policy.model import AccessRequest, Resource
from tests.unit.policy.helpers import SCHEMA, ctx, session, static

SCHEMA_HANDLE = cedarpy.Schema.from_str(SCHEMA.read_text())
ALLOW_ALL = cedarpy.PolicySet.from_str("permit(principal, action, resource);")


def _authorize(request: AccessRequest, policies: cedarpy.PolicySet) -> cedarpy.AuthzResult:
    entities = [ent.principal_entity(request.principal), ent.resource_entity(request.resource)]
    cedar_request = {
        "principal": ent.principal_uid(request.principal),
        "action": ent.action_uid(request.action),
        "resource": ent.resource_uid(request.resource),
        "context": ent.context_record(request.context),
    }
    return cedarpy.is_authorized(cedar_request, policies, json.dumps(entities), SCHEMA_HANDLE)


FULL_CONTEXT = {
    "content_type": "Application/JSON",
    "content_length": 10,
    "list_prefix": "alpha/",
    "copy_source": "traces/a",
    "copy_destination": "traces/b",
    "range": "bytes=0-1",
    "tls": True,
    "presigned": True,
}
PRINCIPALS = [
    session("alice", "analyst", ("analysts",), {"team": "alpha", "kubernetes.namespace": "x"}),
    session("bob"),
    static("dev-admin", ("admins",)),
]


@pytest.mark.parametrize("action", sorted(model.ACTIONS))
def test_every_request_the_gateway_builds_conforms_to_the_schema(action: str) -> None:
    for kind in model.ACTIONS[action].resources:
        for key in ("", "alpha/", "alpha/2025/x/y/run.jsonl", "/odd//key"):
            resource = Resource(kind, "traces", "" if kind == "Bucket" else key)
            for principal in PRINCIPALS:
                for values in ({}, FULL_CONTEXT):
                    request = AccessRequest(principal, action, resource, ctx(action, **values))
                    result = _authorize(request, ALLOW_ALL)
                    assert result.diagnostics.errors == []
                    assert result.allowed


def test_schema_actions_and_groups_match_the_model() -> None:
    rendered = str(SCHEMA_HANDLE)
    declared = set(re.findall(r'^action "([^"]+)"', rendered, re.MULTILINE))
    assert declared == set(model.ACTIONS) | set(model.GROUPS)
    for group in model.GROUPS:
        policies = cedarpy.PolicySet.from_str(
            f'permit(principal, action in Action::"{group}", resource);'
        )
        for action, spec in model.ACTIONS.items():
            resource = Resource(spec.resources[0], "traces", "k")
            request = AccessRequest(PRINCIPALS[0], action, resource, ctx(action))
            assert _authorize(request, policies).allowed is (spec.group == group), (group, action)


def test_resource_attributes() -> None:
    attrs = ent.resource_attrs(Resource.object("traces", "alpha/2025/Run.1.JSONL"))
    assert attrs == {
        "bucket": "traces",
        "key": "alpha/2025/Run.1.JSONL",
        "path": "traces/alpha/2025/Run.1.JSONL",
        "dir1": "alpha",
        "dir2": "2025",
        "name": "Run.1.JSONL",
        "extension": "jsonl",
    }
    # Only segments followed by "/" are directories; empty ones are absent.
    assert "dir1" not in ent.resource_attrs(Resource.object("traces", "alpha"))
    odd = ent.resource_attrs(Resource.object("traces", "/alpha/x"))
    assert "dir1" not in odd and odd["dir2"] == "alpha"
    assert ent.resource_attrs(Resource.object("t", ".hidden"))["extension"] == ""
    assert ent.resource_attrs(Resource.object("t", "a/b/c/d/e"))["dir3"] == "c"
    assert "dir4" not in ent.resource_attrs(Resource.object("t", "a/b/c/d/e"))
    prefix = ent.resource_attrs(Resource.prefix("traces", "alpha/20"))
    assert prefix["dir1"] == "alpha" and "dir2" not in prefix and prefix["name"] == ""
    assert "dir1" not in ent.resource_attrs(Resource.prefix("traces", "alpha"))
    bucket = ent.resource_attrs(Resource.of_bucket("traces"))
    assert bucket == {"bucket": "traces", "key": "", "path": "traces/", "name": "", "extension": ""}


def test_resources_are_in_their_bucket() -> None:
    assert ent.resource_entity(Resource.object("traces", "k"))["parents"] == [
        {"type": "Bucket", "id": "traces"}
    ]
    assert ent.resource_entity(Resource.of_bucket("traces"))["parents"] == []


def test_principal_ids_are_unique_across_issuers() -> None:
    a = ent.principal_uid(session("b|c", issuer="a"))
    b = ent.principal_uid(session("c", issuer="a|b"))
    assert a != b
    assert a == {"type": "User", "id": "a|b|c"}
    assert ent.principal_uid(static("dev-admin")) == {"type": "Service", "id": "dev-admin"}


def test_principal_entity() -> None:
    p = session("alice", "analyst", ("analysts", "sre"), {"team": "alpha", "empty": ""})
    entity = ent.principal_entity(p)
    assert entity["attrs"] == {
        "subject": "alice",
        "issuer": "dev",
        "source": "session",
        "role": "analyst",
        "session_name": "alice-session",
    }
    assert entity["parents"] == [
        {"type": "Group", "id": "analysts"},
        {"type": "Group", "id": "sre"},
        {"type": "Role", "id": "analyst"},
    ]
    # Empty claims are left out so that they can never equal an empty segment.
    assert entity["tags"] == {"team": "alpha"}
    assert ent.principal_entity(static("svc"))["attrs"]["issuer"] == "static"


def test_context_record() -> None:
    record = ent.context_record(ctx("PutObject", content_type=" Text/Plain ", content_length=3))
    assert record["now"] == {
        "epoch": 1736164800,
        "year": 2025,
        "month": 1,
        "day": 6,
        "hour": 12,
        "minute": 0,
        "weekday": 1,
    }
    assert record["content_type"] == "text/plain"
    assert record["source_ip"] == {"__extn": {"fn": "ip", "arg": "10.1.2.3"}}
    assert "range" not in record and "copy_source" not in record
    with pytest.raises(ValueError, match="timezone"):
        ent.context_record(ctx(now=datetime(2025, 1, 1)))


def test_requests_refuse_what_they_cannot_decide() -> None:
    p = session("alice")
    with pytest.raises(ValueError, match="not decided on a Bucket"):
        AccessRequest(p, "GetObject", Resource.of_bucket("traces"), ctx())
    with pytest.raises(ValueError, match="not a policy action"):
        AccessRequest(p, "CopyObject", Resource.object("t", "k"), ctx())
    for op in ("DeleteObjects", "ListBuckets"):
        with pytest.raises(ValueError, match="per item"):
            model.requests_for(p, op, "traces", None, ctx())
    with pytest.raises(ValueError, match="not an operation"):
        model.requests_for(p, "PutBucketPolicy", "traces", "k", ctx())
    for op in ("CopyObject", "UploadPartCopy"):
        with pytest.raises(ValueError, match="copy source"):
            model.requests_for(p, op, "traces", "k", ctx())
    with pytest.raises(ValueError, match="needs a key"):
        model.requests_for(p, "GetObject", "traces", None, ctx())
    with pytest.raises(ValueError, match="not a listing"):
        model.listing_requests(p, "GetObject", "traces", ["k"], [], ctx())


def test_listing_is_decided_on_the_listed_prefix() -> None:
    (request,) = model.requests_for(
        session("a"), "ListObjectsV2", "traces", None, ctx(list_prefix="alpha/")
    )
    assert request.resource == Resource.prefix("traces", "alpha/")
    assert request.context.operation == "ListObjectsV2"


@pytest.mark.parametrize(
    ("operation", "write"), [("CopyObject", "PutObject"), ("UploadPartCopy", "UploadPart")]
)
def test_copies_read_the_source_and_write_the_destination(operation: str, write: str) -> None:
    read, written = model.requests_for(
        session("alice"), operation, "dst", "k", ctx(), copy_source=("src", "s")
    )
    assert (read.action, str(read.resource)) == ("GetObject", 'Object::"src/s"')
    assert (written.action, str(written.resource)) == (write, 'Object::"dst/k"')
    assert read.context.copy_destination == "dst/k" and written.context.copy_source == "src/s"
    assert read.context.operation == written.context.operation == operation
