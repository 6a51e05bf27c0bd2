"""The engine: default deny, forbid wins, fail closed, batches."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cedarpy
import pytest

from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.loader import load_bundle
from s3gate.policy.model import AccessRequest, Resource
from s3gate.policy.projection import Projection
from s3gate.policy.settings import PolicySettings
from tests.unit.policy.helpers import ctx, session, write_bundle


def test_default_deny_and_forbid_wins(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(
        """
@id("read") permit (principal, action in Action::"read", resource);
@id("no-secrets") forbid (principal, action, resource)
  when { resource has dir1 && resource.dir1 == "secret" };
"""
    )
    p = session("u")
    get = bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "a/b"), ctx()))
    assert get.allowed and get.policies == ("read",) and get.reason == "permitted by read"
    put = bundle.decide(AccessRequest(p, "PutObject", Resource.object("t", "a/b"), ctx()))
    assert not put.allowed and put.policies == () and "default deny" in put.reason
    secret = bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "secret/b"), ctx()))
    assert not secret.allowed and secret.policies == ("no-secrets",)
    assert secret.reason == "forbidden by no-secrets"


def test_a_forbid_that_errors_denies(make_bundle: Callable[..., Bundle]) -> None:
    # Cedar skips a policy whose evaluation errors (here: integer overflow),
    # which for a forbid would mean allowing. The engine denies instead.
    bundle = make_bundle(
        """
@id("all") permit (principal, action, resource);
@id("overflowing") forbid (principal, action, resource)
  when { context has content_length && context.content_length * 4611686018427387904 > 0 };
"""
    )
    request = AccessRequest(
        session("u"), "PutObject", Resource.object("t", "k"), ctx(content_length=4)
    )
    decision = bundle.decide(request)
    assert not decision.allowed
    assert decision.policies == ("overflowing",)
    assert "could not be fully evaluated" in decision.reason


def test_a_request_that_does_not_match_the_schema_is_denied(tmp_path: Path) -> None:
    # A schema that asks for a context attribute the gateway never sends:
    # the policies validate, every request fails the schema check, all denied.
    directory = write_bundle(tmp_path / "b", '@id("all") permit (principal, action, resource);')
    schema = directory / "schema.cedarschema"
    schema.write_text(
        schema.read_text().replace(
            "  operation: String,", "  operation: String,\n  tenant: String,"
        )
    )
    bundle = load_bundle(PolicySettings(dir=directory))
    request = AccessRequest(session("u"), "GetObject", Resource.object("t", "k"), ctx())
    for _ in range(2):  # and the failure is not remembered as a decision
        decision = bundle.decide(request)
        assert not decision.allowed
        assert "could not be fully evaluated" in decision.reason or "failed" in decision.reason
    assert bundle._cache == {}


def test_bad_context_values_are_refused_where_the_context_is_built() -> None:
    with pytest.raises(ValueError):
        ctx(source_ip="not-an-ip")
    with pytest.raises(ValueError, match="negative"):
        ctx(content_length=-1)


def test_remembered_decisions_skip_cedar(
    make_bundle: Callable[..., Bundle], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = make_bundle(
        '@id("r") @mask("m") permit (principal, action, resource)'
        ' when { resource has dir1 && resource.dir1 == "a" };',
        decision_cache_size=3,
    )
    calls = _count_batches(monkeypatch)
    p = session("u")
    first = bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "a/1"), ctx()))
    again = bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "a/2"), ctx()))
    assert calls == [1]
    assert first.allowed and again.allowed and again.resource == 'Object::"t/a/2"'
    assert again.obligations == first.obligations
    # Another principal, action or observed value is another entry.
    bundle.decide(AccessRequest(session("v"), "GetObject", Resource.object("t", "a/1"), ctx()))
    bundle.decide(AccessRequest(p, "HeadObject", Resource.object("t", "a/1"), ctx()))
    bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "b/1"), ctx()))
    assert calls == [1, 1, 1, 1]
    assert len(bundle._cache) <= 3  # bounded
    bundle.clear_cache()
    bundle.decide(AccessRequest(p, "GetObject", Resource.object("t", "a/3"), ctx()))
    assert calls == [1, 1, 1, 1, 1]


def _count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    evaluated: list[int] = []
    real = cedarpy.is_authorized_batch

    def counting(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
        evaluated.append(len(requests))
        return real(requests, *args, **kwargs)

    monkeypatch.setattr(cedarpy, "is_authorized_batch", counting)
    return evaluated


def test_decide_many_keeps_order_and_matches_single_decisions(example_bundle: Bundle) -> None:
    p = session("bot", "trace-writer", claims={"team": "alpha"})
    keys = ["alpha/1", "beta/1", "alpha/2", "alpha", ".s3gate/x", "alpha/3"]
    requests = [AccessRequest(p, "PutObject", Resource.object("traces", k), ctx()) for k in keys]
    many = example_bundle.decide_many(requests)
    assert [d.resource for d in many] == [str(r.resource) for r in requests]
    assert many == [example_bundle.decide(r) for r in requests]
    assert [d.allowed for d in many] == [True, False, True, False, False, True]
    assert example_bundle.decide_many([]) == []


def test_a_listing_page_needs_few_evaluations(
    example_bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    example_bundle.clear_cache()
    evaluated = _count_batches(monkeypatch)
    p = session("alice", "analyst", ("analysts",))
    keys = [f"{team}/2025/run-{i}.jsonl" for i in range(500) for team in ("alpha", "beta")]
    requests = model.listing_requests(p, "ListObjectsV2", "traces", keys, [], ctx())
    decisions = example_bundle.decide_many(requests)
    assert all(d.allowed for d in decisions)
    assert sum(evaluated) <= 2  # one per distinct dir1, not one per key


ANY = "(principal, action, resource)"
POLICY_POOL = [
    f'@id("p1") permit {ANY} when {{ resource.bucket == "t" && action in Action::"read" }};',
    f'@id("p2") permit {ANY} when {{ resource has dir1 && resource.dir1 == "a" }};',
    f'@id("p3") forbid {ANY} when {{ resource.key like "*secret*" }};',
    f'@id("p4") permit {ANY} when {{ resource.extension == "json" }};',
    f'@id("p5") forbid {ANY} when {{ resource has dir2 && resource.dir2 == "x" }};',
    '@id("p6") permit (principal, action, resource == Object::"t/a/b");',
    '@id("p7") @mask("m") permit (principal, action, resource in Bucket::"u");',
    f'@id("p8") permit {ANY} when {{ context has list_prefix && context.list_prefix == "a/" }};',
    f'@id("p9") forbid {ANY} when {{ context.now.hour < 6 }};',
]


@pytest.mark.parametrize("seed", range(12))
def test_grouping_never_changes_a_decision(make_bundle: Callable[..., Bundle], seed: int) -> None:
    rng = random.Random(seed)
    policies = "\n".join(rng.sample(POLICY_POOL, rng.randint(1, len(POLICY_POOL))))
    bundle = make_bundle(policies)
    segments = ["a", "b", "x", "secret", "", "c.json"]
    requests = []
    for _ in range(300):
        key = "/".join(rng.choice(segments) for _ in range(rng.randint(1, 4)))
        bucket = rng.choice(["t", "u"])
        action = rng.choice(["GetObject", "ListObjectsV2", "PutObject"])
        kind = rng.choice(model.ACTIONS[action].resources)
        context = ctx(action, list_prefix=rng.choice([None, "a/"]), now=ctx().now)
        requests.append(AccessRequest(session("u"), action, Resource(kind, bucket, key), context))
    grouped = bundle.decide_many(requests)
    again = bundle.decide_many(requests)  # now largely from the cache
    plain = make_bundle(policies, decision_cache_size=0)
    plain.projection = Projection(resource_paths=None, context_paths=None)
    expected = [plain.decide(r) for r in requests]
    assert grouped == expected
    assert again == expected
