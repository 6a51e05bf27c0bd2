"""Built-in guards: checked before the policies, which cannot loosen them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.guards import AUDIT_BUCKET_ACTIONS, AUDIT_GUARD, INTERNAL_GUARD, Guards
from s3gate.policy.model import AccessRequest, Resource
from s3gate.policy.settings import PolicySettings
from tests.unit.policy.helpers import ctx, session

ALLOW_ALL = '@id("everything") permit (principal, action, resource);'
GUARDS = Guards("audit", ("*/.s3gate/", "internal/", "traces/staging/"))


@pytest.mark.parametrize("action", sorted(model.ACTIONS))
def test_audit_bucket_is_read_only_whatever_the_policies(
    make_bundle: Callable[..., Bundle], action: str
) -> None:
    bundle = make_bundle(ALLOW_ALL, audit_bucket="audit-trail")
    kind = model.ACTIONS[action].resources[0]
    resource = Resource(kind, "audit-trail", "" if kind == "Bucket" else "m/1.json")
    decision = bundle.decide(AccessRequest(session("root"), action, resource, ctx(action)))
    if action in AUDIT_BUCKET_ACTIONS:
        assert decision.allowed
    else:
        assert not decision.allowed
        assert decision.policies == (AUDIT_GUARD,)
    # The same action elsewhere is up to the policies.
    elsewhere = Resource(kind, "traces", resource.key)
    assert bundle.decide(AccessRequest(session("root"), action, elsewhere, ctx(action))).allowed


def test_audit_bucket_allow_list_is_read_only() -> None:
    mutating = {"PutObject", "DeleteObject", "CreateBucket", "DeleteBucket", "PutBucketVersioning"}
    mutating |= {a for a, s in model.ACTIONS.items() if s.group == "write" and a != "ListParts"}
    assert not mutating & AUDIT_BUCKET_ACTIONS
    assert set(model.ACTIONS) >= AUDIT_BUCKET_ACTIONS


@pytest.mark.parametrize(
    ("resource", "internal"),
    [
        (Resource.object("traces", ".s3gate/staging/1"), True),
        (Resource.object("anything", ".s3gate/x"), True),
        (Resource.object("traces", "a/.s3gate/x"), False),
        (Resource.object("traces", ".s3gatex"), False),
        (Resource.object("internal", "any/key"), True),
        (Resource.of_bucket("internal"), True),
        (Resource.of_bucket("traces"), False),  # only part of it is internal
        (Resource.object("traces", "staging/x"), True),
        (Resource.object("other", "staging/x"), False),
        (Resource.prefix("traces", ".s3gate/"), True),  # listing inside
        (Resource.prefix("traces", ".s3gate/deeper/"), True),
        (Resource.prefix("traces", ""), False),  # listing above: results are filtered
        (Resource.prefix("traces", ".s3"), False),
        (Resource.prefix("internal", ""), True),
    ],
)
def test_internal_prefixes(resource: Resource, internal: bool) -> None:
    assert GUARDS.is_internal(resource) is internal
    denial = GUARDS.check("GetObject" if resource.kind == "Object" else "ListObjects", resource)
    assert (denial is not None and denial.guard == INTERNAL_GUARD) is internal


def test_internal_entries_never_show_in_a_listing(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(ALLOW_ALL)
    keys = ["a", ".s3gate/tmp/1", "b/c"]
    requests = model.listing_requests(
        session("u"), "ListObjectsV2", "traces", keys, ["b/", ".s3gate/"], ctx()
    )
    shown = [
        r.resource.key
        for r, d in zip(requests, bundle.decide_many(requests), strict=True)
        if d.allowed
    ]
    assert shown == ["a", "b/c", "b/"]


def test_internal_bucket_is_hidden_from_list_buckets(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(ALLOW_ALL, internal_prefixes=("s3gate-internal/",))
    requests = model.bucket_requests(session("u"), ["s3gate-internal", "traces"], ctx())
    assert [d.allowed for d in bundle.decide_many(requests)] == [False, True]


def test_settings_refuse_a_guard_that_covers_everything() -> None:
    with pytest.raises(ValueError, match="every bucket"):
        PolicySettings(internal_prefixes=("*/",))
    with pytest.raises(ValueError, match="bucket or"):
        PolicySettings(internal_prefixes=(".s3gate",))
