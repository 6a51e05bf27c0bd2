"""The Cedar examples in docs/policies.md are valid and do what they say."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from s3gate.identity.principal import Principal
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import AccessRequest, Resource
from tests.unit.policy.helpers import POLICIES, ctx, session, static

DOC = (POLICIES.parent / "docs" / "policies.md").read_text()
BLOCKS = re.findall(r"```cedar\n(.*?)```", DOC, re.DOTALL)
ALLOW_ALL = '@id("all") permit (principal, action, resource);\n'


def _block(policy_id: str) -> str:
    (found,) = [str(b) for b in BLOCKS if f'@id("{policy_id}")' in b]
    return found


def test_the_docs_have_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS)
def test_every_example_validates(make_bundle: Callable[..., Bundle], block: str) -> None:
    assert make_bundle(block).policies


def _get(bundle: Bundle, principal: Principal, key: str, **context: object) -> bool:
    request = AccessRequest(
        principal, "GetObject", Resource.object("traces", key), ctx("GetObject", **context)
    )
    return bundle.decide(request).allowed


def test_per_user_prefixes(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(_block("users.read-own-prefix"))
    alice = session("alice")
    assert _get(bundle, alice, "alice/run-1.jsonl")
    assert not _get(bundle, alice, "bob/run-1.jsonl")
    assert not _get(bundle, alice, "alice")  # an object named alice at the root
    assert not _get(bundle, static("alice"), "alice/run-1.jsonl")  # services are not users


def test_per_team_prefixes(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(_block("teams.write-own-prefix") + _block("teams.alpha-by-group"))

    def put(principal: Principal, key: str) -> bool:
        request = AccessRequest(
            principal, "PutObject", Resource.object("traces", key), ctx("PutObject")
        )
        return bundle.decide(request).allowed

    assert put(session("a", "trace-writer", claims={"team": "beta"}), "beta/x")
    assert not put(session("a", "trace-writer", claims={"team": "beta"}), "alpha/x")
    assert not put(session("a", "trace-writer", claims={"team": ""}), "/x")
    assert put(session("b", groups=("team-alpha",)), "alpha/x")
    assert not put(session("b", groups=("team-alpha",)), "beta/x")


def test_ip_restrictions(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(ALLOW_ALL + _block("network.reads-from-known-networks"))
    assert _get(bundle, session("u"), "k", source_ip="10.20.30.40")
    assert _get(bundle, session("u"), "k", source_ip="192.168.1.1")
    assert not _get(bundle, session("u"), "k", source_ip="203.0.113.9")
    assert not _get(bundle, session("u"), "k", source_ip="::1")


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        (datetime(2025, 1, 6, 12, 0, tzinfo=UTC), True),  # Monday noon
        (datetime(2025, 1, 6, 6, 59, tzinfo=UTC), False),
        (datetime(2025, 1, 10, 18, 59, tzinfo=UTC), True),  # Friday
        (datetime(2025, 1, 10, 19, 0, tzinfo=UTC), False),
        (datetime(2025, 1, 11, 12, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_business_hours(make_bundle: Callable[..., Bundle], when: datetime, allowed: bool) -> None:
    bundle = make_bundle(ALLOW_ALL + _block("hours.analysts-business-hours"))
    assert _get(bundle, session("a", "analyst"), "k", now=when) is allowed
    assert _get(bundle, session("w", "trace-writer"), "k", now=when)


@pytest.mark.parametrize(
    ("content_type", "length", "tls", "allowed"),
    [
        ("application/x-ndjson", 100, True, True),
        ("application/json; charset=utf-8", 100, True, True),
        ("text/plain", 100, True, False),
        (None, 100, True, False),
        ("application/json", 104857601, True, False),
        ("application/json", None, True, False),  # unknown length does not pass
        ("application/json", 100, False, False),
    ],
)
def test_content_rules(
    make_bundle: Callable[..., Bundle],
    content_type: str | None,
    length: int | None,
    tls: bool,
    allowed: bool,
) -> None:
    bundle = make_bundle(ALLOW_ALL + _block("uploads.json-only"))
    context = ctx("PutObject", content_type=content_type, content_length=length, tls=tls)
    request = AccessRequest(session("u"), "PutObject", Resource.object("traces", "a.json"), context)
    assert bundle.decide(request).allowed is allowed


def test_obligation_composition_example(make_bundle: Callable[..., Bundle]) -> None:
    bundle = make_bundle(_block("ops.everything"))
    ops = session("o", groups=("ops",))
    put = AccessRequest(ops, "PutObject", Resource.object("traces", "k"), ctx("PutObject"))
    decision = bundle.decide(put)
    assert decision.obligations.masks == ("write-default",)
    other = AccessRequest(ops, "PutObject", Resource.object("scratch", "k"), ctx("PutObject"))
    assert bundle.decide(other).obligations.masks == ()
