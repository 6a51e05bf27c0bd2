"""AccessDenied messages: the class of reason and the request id, never the
policy text; the policy ids only at the `policies` detail level."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from s3gate.identity.principal import Principal
from s3gate.policy import denials, enforce
from s3gate.policy.cedar import Bundle
from tests.unit.policy.helpers import ctx, session, static

ANALYST = session("alice", "analyst", groups=("analysts",))
WRITER = session("bot", "trace-writer", claims={"team": "alpha"})
ADMIN = static("dev-admin", ("admins",))
STRANGER = session("eve", "unknown-role")

# (principal, operation, bucket, key, basis, words the message must contain)
CASES: list[tuple[Principal, str, str, str | None, str, tuple[str, ...]]] = [
    (STRANGER, "GetObject", "traces", "a.jsonl", "default-deny", ("no access policy allows",)),
    (ANALYST, "ListObjectsV2", "audit", None, "forbid", ("explicit deny (forbid)",)),
    (WRITER, "GetObject", "traces", "alpha/x", "forbid", ("explicit deny (forbid)",)),
    (ADMIN, "PutObject", "audit", "forged", "guard", ("built-in guard", "audit bucket")),
    (ADMIN, "GetObject", "traces", ".s3gate/v/x", "guard", ("built-in guard", "internal prefix")),
]


@pytest.mark.parametrize(("who", "op", "bucket", "key", "basis", "words"), CASES)
def test_the_message_names_the_reason_class_and_the_request_id(
    example_bundle: Bundle,
    who: Principal,
    op: str,
    bucket: str,
    key: str | None,
    basis: str,
    words: tuple[str, ...],
) -> None:
    decision = enforce.authorize(example_bundle, who, op, bucket, key, ctx(op))
    assert not decision.allowed and decision.basis == basis
    text = denials.message(decision, "REQ123")
    for word in words:
        assert word in text
    assert "request id REQ123" in text and "--request-id REQ123" in text
    # Never the policy ids, nor the decision's internal reason, by default.
    for policy in decision.policies:
        assert policy not in text
    assert decision.reason not in text


def test_detail_none_says_only_access_denied(example_bundle: Bundle) -> None:
    decision = enforce.authorize(
        example_bundle, ANALYST, "ListObjectsV2", "audit", None, ctx("ListObjectsV2")
    )
    text = denials.message(decision, "R1", "none")
    assert text.startswith("Access Denied (request id R1")
    assert "forbid" not in text and "analyst" not in text


def test_detail_policies_adds_the_determining_ids(example_bundle: Bundle) -> None:
    decision = enforce.authorize(
        example_bundle, ANALYST, "ListObjectsV2", "audit", None, ctx("ListObjectsV2")
    )
    assert "[analyst.never-audit]" in denials.message(decision, "R1", "policies")
    guard = enforce.authorize(example_bundle, ADMIN, "PutObject", "audit", "k", ctx("PutObject"))
    assert "[builtin:audit-bucket-readonly]" in denials.message(guard, "R1", "policies")


def test_an_evaluation_error_is_its_own_class(make_bundle: Callable[..., Bundle]) -> None:
    # An integer overflow in a forbid: Cedar skips it, the engine denies (fail closed).
    bundle = make_bundle(
        """
@id("all") permit (principal, action, resource);
@id("overflowing") forbid (principal, action, resource)
  when { context has content_length && context.content_length * 4611686018427387904 > 0 };
"""
    )
    decision = enforce.authorize(
        bundle, STRANGER, "PutObject", "t", "k", ctx("PutObject", content_length=4)
    )
    assert not decision.allowed and decision.basis == "error"
    text = denials.message(decision, "R1")
    assert "could not be evaluated" in text and "overflowing" not in text


def test_an_allowed_decision_has_no_reason(example_bundle: Bundle) -> None:
    decision = enforce.authorize(example_bundle, ADMIN, "GetObject", "traces", "k", ctx())
    assert decision.allowed and decision.basis == "permit"
    assert denials.reason_class(decision) == ""
