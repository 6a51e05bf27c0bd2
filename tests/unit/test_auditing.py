"""The request's record (handlers.outcome) → its audit event and access-log line."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from starlette.requests import Request

from s3gate.audit.events import MaskingSummary, PrincipalInfo
from s3gate.auditing import _masking, sts_event
from s3gate.handlers.outcome import Outcome, Tally
from s3gate.handlers.sts import StsOutcome
from s3gate.identity.principal import Principal
from s3gate.transform.summary import MaskSummary

ROLE = "arn:aws:iam::000000000000:role/analyst"
SESSION = Principal("alice", "ASIASESSION", "session", issuer="corp", role="analyst")


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"user-agent", b"botocore/1")],
        "client": ("10.0.0.7", 5000),
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("sts", "status", "allowed", "principal"),
    [
        (
            StsOutcome("sts:AssumeRoleWithWebIdentity", ROLE, SESSION),
            200,
            True,
            PrincipalInfo("alice", "ASIASESSION", "session", "corp", "analyst"),
        ),
        (
            StsOutcome("sts:AssumeRoleWithWebIdentity", ROLE, error="InvalidIdentityToken"),
            400,
            False,
            None,
        ),
        (StsOutcome("sts", error="ValidationError"), 400, False, None),
    ],
)
def test_an_sts_outcome_becomes_its_exchange_event(
    sts: StsOutcome, status: int, allowed: bool, principal: PrincipalInfo | None
) -> None:
    tally = Tally("REQ", "POST")
    sts.record(tally)
    event = sts_event(tally.freeze(), _request(), status)
    assert event.type == "sts.exchange" and event.request_id == "REQ"
    assert event.decision == ("allow" if allowed else "deny")
    assert event.principal == principal
    assert event.details["role_arn"] == sts.role_arn  # the role asked for, granted or not
    assert event.error_code == sts.error
    assert (event.source_ip, event.user_agent) == ("10.0.0.7", "botocore/1")


def _summary(**kw: object) -> MaskSummary:
    return MaskSummary(profiles=("analyst-view",), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("summary", "action", "counts"),
    [
        (_summary(), None, {}),
        (_summary(detectors=Counter({"email": 2})), "rewrite", {"email": 2}),
        (_summary(rules=Counter({"p:drop": 1})), "rewrite", {"p:drop": 1}),
        (_summary(blocked=("secret",)), "block", {}),
        (_summary(held=("pii",), detectors=Counter({"email": 1})), "hold", {"email": 1}),
    ],
)
def test_the_masking_summary_of_the_event(
    summary: MaskSummary, action: str | None, counts: dict[str, int]
) -> None:
    assert _masking(summary) == MaskingSummary("analyst-view", counts, action)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        # Only what is known is logged.
        (lambda t: None, {"request_id": "R", "method": "GET"}),
        (
            lambda t: (t.target("GetObject", "b", "k"), t.who(SESSION)),
            {
                "request_id": "R",
                "method": "GET",
                "operation": "GetObject",
                "bucket": "b",
                "key": "k",
                "principal": "alice",
                "access_key_id": "ASIASESSION",
            },
        ),
        # A body answered whole is counted, never logged.
        (
            lambda t: t.returned_whole(b"secret body"),
            {"request_id": "R", "method": "GET", "bytes_out": 11},
        ),
        (
            lambda t: StsOutcome("sts:AssumeRoleWithWebIdentity", ROLE, SESSION).record(t),
            {
                "request_id": "R",
                "method": "GET",
                "operation": "sts:AssumeRoleWithWebIdentity",
                "principal": "alice",
                "role_arn": ROLE,
                "issuer": "corp",
                "role": "analyst",
                "session_access_key_id": "ASIASESSION",
            },
        ),
        (
            lambda t: setattr(t, "error", "AccessDenied"),
            {"request_id": "R", "method": "GET", "error": "AccessDenied"},
        ),
    ],
)
def test_the_access_log_fields_of_an_outcome(fill: object, expected: dict[str, object]) -> None:
    tally = Tally("R", "GET")
    fill(tally)  # type: ignore[operator]
    fields = tally.freeze().log_fields()
    assert fields == expected
    assert "secret body" not in json.dumps(fields)


def test_a_masking_summary_is_logged_as_its_dict() -> None:
    summary = _summary(detectors=Counter({"email": 1}))
    fields = Outcome("R", "GET", mask_summary=summary).log_fields()
    assert fields["mask_summary"] == summary.as_dict()


def test_freeze_copies_every_field_of_the_outcome() -> None:
    tally = Tally("R", "PUT", bytes_in=3, sha256_received="a", sha256_stored="b")
    frozen = tally.freeze()
    tally.bytes_in = 4  # the frozen record does not move
    assert (frozen.bytes_in, frozen.sha256_received, frozen.sha256_stored) == (3, "a", "b")
