"""The shipped example policies, persona by persona, on every S3 path."""

from __future__ import annotations

import pytest

from s3gate.identity.principal import Principal
from s3gate.policy import decision as dec
from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.testing import default_suites, run_suites
from tests.unit.policy.helpers import POLICIES, ctx, session, static

PERSONAS: dict[str, Principal] = {
    "writer": session(
        "system:serviceaccount:agents:alpha-bot", "trace-writer", claims={"team": "alpha"}
    ),
    "writer-group": session("bot-2", "trace-writer", groups=("trace-writers", "team-alpha")),
    "analyst": session("alice", "analyst", groups=("analysts",)),
    "auditor": session("audrey", "auditor", groups=("auditors",)),
    "break-glass": session("rita", "break-glass", groups=("sre",)),
    "dev": static("dev-admin", ("admins",)),
    "stranger": session("eve", "unknown-role", groups=("admins", "analysts")),
}

OWN = "alpha/2025/run-1.jsonl"
OTHER = "beta/run-1.jsonl"
WRITES = (
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
)
A, D = True, False

# (persona, operation, bucket, key, allowed, masks, approvals)
TABLE: list[tuple[str, str, str, str | None, bool, tuple[str, ...], tuple[str, ...]]] = [
    *[("writer", op, "traces", OWN, A, ("write-default",), ()) for op in WRITES],
    *[("writer", op, "traces", OTHER, D, (), ()) for op in WRITES],
    *[("writer-group", op, "traces", OWN, A, ("write-default",), ()) for op in WRITES],
    *[("writer-group", op, "traces", OTHER, D, (), ()) for op in WRITES],
    ("writer", "GetObject", "traces", OWN, D, (), ()),
    ("writer", "HeadObject", "traces", OTHER, D, (), ()),
    ("writer", "DeleteObject", "traces", OWN, D, (), ()),
    ("writer", "ListObjectsV2", "traces", "alpha/", A, (), ()),
    ("writer", "ListObjects", "traces", "beta/", D, (), ()),
    ("writer", "ListMultipartUploads", "traces", "alpha/", A, (), ()),
    ("writer", "ListBuckets", "traces", None, A, (), ()),
    ("writer", "ListBuckets", "audit", None, D, (), ()),
    ("writer", "CreateBucket", "scratch", None, D, (), ()),
    ("writer", "PutObject", "audit", "alpha/x", D, (), ()),
    ("analyst", "GetObject", "traces", OWN, A, ("analyst-view",), ()),
    ("analyst", "HeadObject", "traces", OTHER, A, ("analyst-view",), ()),
    ("analyst", "ListObjectsV2", "traces", "", A, (), ()),
    ("analyst", "ListObjects", "traces", "beta/", A, (), ()),
    ("analyst", "ListMultipartUploads", "traces", "", A, (), ()),
    ("analyst", "ListBuckets", "traces", None, A, (), ()),
    ("analyst", "HeadBucket", "traces", None, A, (), ()),
    ("analyst", "GetBucketLocation", "traces", None, A, (), ()),
    ("analyst", "ListBuckets", "audit", None, D, (), ()),
    ("analyst", "GetObject", "audit", "m/1.json", D, (), ()),
    ("analyst", "ListObjectsV2", "audit", "", D, (), ()),
    *[("analyst", op, "traces", OWN, D, (), ()) for op in (*WRITES, "DeleteObject")],
    ("analyst", "CreateBucket", "scratch", None, D, (), ()),
    ("auditor", "GetObject", "audit", "m/1.json", A, (), ()),
    ("auditor", "HeadObject", "audit", "m/1.json", A, (), ()),
    ("auditor", "ListObjectsV2", "audit", "", A, (), ()),
    ("auditor", "ListBuckets", "audit", None, A, (), ()),
    ("auditor", "ListBuckets", "traces", None, D, (), ()),
    ("auditor", "GetObject", "traces", OWN, D, (), ()),
    ("auditor", "PutObject", "audit", "m/forged.json", D, (), ()),
    ("auditor", "DeleteObject", "audit", "m/1.json", D, (), ()),
    ("break-glass", "GetObject", "traces", OWN, A, (), ("security",)),
    ("break-glass", "HeadObject", "traces", OWN, A, (), ("security",)),
    ("break-glass", "ListObjectsV2", "traces", "", A, (), ()),
    ("break-glass", "PutObject", "traces", OWN, D, (), ()),
    ("break-glass", "GetObject", "audit", "m/1.json", D, (), ()),
    ("dev", "GetObject", "traces", OWN, A, (), ()),
    ("dev", "PutObject", "traces", OWN, A, ("write-default",), ()),
    ("dev", "PutObject", "scratch", "x", A, (), ()),
    ("dev", "DeleteObject", "traces", OWN, A, (), ()),
    ("dev", "CreateBucket", "scratch", None, A, (), ()),
    ("dev", "DeleteBucket", "scratch", None, A, (), ()),
    ("dev", "GetObject", "audit", "m/1.json", A, (), ()),
    ("dev", "ListBuckets", "audit", None, A, (), ()),
    # ListParts only reads, so the audit-bucket guard lets it through.
    *[("dev", op, "audit", "m/1.json", D, (), ()) for op in (*WRITES[:-1], "DeleteObject")],
    ("dev", "ListParts", "audit", "m/1.json", A, (), ()),
    ("dev", "CreateBucket", "audit", None, D, (), ()),
    ("dev", "DeleteBucket", "audit", None, D, (), ()),
    ("dev", "GetObject", "traces", ".s3gate/staging/1", D, (), ()),
    ("dev", "ListObjectsV2", "traces", ".s3gate/", D, (), ()),
    *[
        ("stranger", op, "traces", OWN, D, (), ())
        for op in ("GetObject", "PutObject", "DeleteObject", "ListParts")
    ],
    ("stranger", "ListBuckets", "traces", None, D, (), ()),
]


def _decide(bundle: Bundle, persona: str, op: str, bucket: str, key: str | None) -> dec.Decision:
    principal = PERSONAS[persona]
    spec = model.ACTIONS[op]
    if spec.resources == ("Prefix", "Object"):
        requests = model.requests_for(principal, op, bucket, None, ctx(op, list_prefix=key))
    elif op == "ListBuckets":
        requests = tuple(model.bucket_requests(principal, [bucket], ctx(op)))
    else:
        requests = model.requests_for(principal, op, bucket, key, ctx(op))
    return dec.combine(bundle.decide_many(requests))


@pytest.mark.parametrize(
    ("persona", "op", "bucket", "key", "allowed", "masks", "approvals"),
    TABLE,
    ids=[f"{row[0]}-{row[1]}-{row[2]}/{row[3] or ''}" for row in TABLE],
)
def test_persona_table(
    example_bundle: Bundle,
    persona: str,
    op: str,
    bucket: str,
    key: str | None,
    allowed: bool,
    masks: tuple[str, ...],
    approvals: tuple[str, ...],
) -> None:
    decision = _decide(example_bundle, persona, op, bucket, key)
    assert decision.allowed is allowed, decision.reason
    assert decision.obligations.masks == masks
    assert decision.obligations.approvals == approvals
    assert decision.bundle_hash == example_bundle.hash
    if allowed:
        assert decision.policies, "an allow always names the permits that made it"


def test_every_persona_has_allowed_and_denied_rows() -> None:
    for persona in PERSONAS:
        outcomes = {row[4] for row in TABLE if row[0] == persona}
        assert outcomes == ({D} if persona == "stranger" else {A, D}), persona


def test_copy_is_a_read_of_the_source_and_a_write_of_the_destination(
    example_bundle: Bundle,
) -> None:
    writer = PERSONAS["writer"]
    copy = model.requests_for(
        writer, "CopyObject", "traces", "alpha/copy", ctx(), copy_source=("traces", OWN)
    )
    assert [(r.action, str(r.resource)) for r in copy] == [
        ("GetObject", f'Object::"traces/{OWN}"'),
        ("PutObject", 'Object::"traces/alpha/copy"'),
    ]
    assert copy[0].context.copy_destination == "traces/alpha/copy"
    assert copy[1].context.copy_source == f"traces/{OWN}"
    assert all(r.context.operation == "CopyObject" for r in copy)
    # A source version is the read's; the destination's write names none.
    versioned = model.requests_for(
        writer,
        "CopyObject",
        "traces",
        "alpha/copy",
        ctx(version_id="v1"),
        copy_source=("traces", OWN),
    )
    assert [r.context.version_id for r in versioned] == ["v1", None]
    # The writer may write the destination but not read the source.
    decisions = example_bundle.decide_many(copy)
    assert [d.allowed for d in decisions] == [False, True]
    assert not dec.combine(decisions).allowed


def test_delete_objects_gives_a_decision_per_key(example_bundle: Bundle) -> None:
    dev = PERSONAS["dev"]
    keys = ["a.txt", ".s3gate/x", "b.txt"]
    decisions = example_bundle.decide_many(model.delete_requests(dev, "traces", keys, ctx()))
    assert [d.allowed for d in decisions] == [True, False, True]
    assert decisions[1].policies == ("builtin:internal-prefix",)


def test_listing_filter_hides_other_teams_and_internal_entries(example_bundle: Bundle) -> None:
    writer = PERSONAS["writer"]
    keys = ["alpha/1.jsonl", "beta/2.jsonl", "alpha/sub/3.jsonl", ".s3gate/x", "alpha"]
    prefixes = ["alpha/", "beta/", ".s3gate/"]
    requests = model.listing_requests(writer, "ListObjectsV2", "traces", keys, prefixes, ctx())
    decisions = example_bundle.decide_many(requests)
    shown = [r.resource.key for r, d in zip(requests, decisions, strict=True) if d.allowed]
    assert shown == ["alpha/1.jsonl", "alpha/sub/3.jsonl", "alpha/"]


def test_list_buckets_shows_only_usable_buckets(example_bundle: Bundle) -> None:
    buckets = ["audit", "scratch", "traces"]
    for persona, visible in [("analyst", ["traces"]), ("auditor", ["audit"]), ("dev", buckets)]:
        requests = model.bucket_requests(PERSONAS[persona], buckets, ctx())
        decisions = example_bundle.decide_many(requests)
        assert [b for b, d in zip(buckets, decisions, strict=True) if d.allowed] == visible, persona


def test_shipped_policy_tests_pass(example_bundle: Bundle) -> None:
    report = run_suites(POLICIES, example_bundle, default_suites())
    assert report.ok, report.render(example_bundle.hash)
    personas = {r.location.split(":")[0] for r in report.results}
    assert {f"tests/{p}.yaml" for p in ("trace-writer", "analyst", "auditor")} <= personas
    assert {"tests/break-glass.yaml", "tests/dev-admin.yaml"} <= personas
