"""Event schema and builders: two-phase requests, outcomes, gateway events,
and that nothing secret can get into an event."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime

from s3gate import errors
from s3gate.audit.events import SCHEMA, AuditEvent, MaskingSummary, PrincipalInfo
from s3gate.audit.write import builders
from s3gate.audit.write.builders import RequestEvent
from s3gate.identity.principal import Credential, Principal

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def principal() -> Principal:
    return Principal(
        subject="alice",
        access_key_id="ASIAEXAMPLE0001",
        source="session",
        groups=("analysts",),
        issuer="https://idp.example",
        role="analyst",
        session_name="nb",
        claims={"email": "alice@example.com"},
    )


def request() -> RequestEvent:
    ev = RequestEvent(
        "REQ1",
        operation="GetObject",
        bucket="traces",
        key="a.jsonl",
        source_ip="10.0.0.1",
        user_agent="boto3",
        clock=lambda: NOW,
    )
    ev.set_principal(principal())
    ev.decide("allow", policy_ids=("p1", "p2"), bundle_hash="h" * 64, obligations=("mask:x",))
    return ev


def test_streamed_get_has_a_decision_then_a_linked_completion() -> None:
    ev = request()
    decision = ev.decision()
    assert decision.type == "request.decision"
    assert decision.status is None and decision.outcome == "allowed"
    ev.masking = MaskingSummary("analyst-view", {"email": 2}, "rewrite")
    done = ev.completion(200, bytes_out=10, sha256_returned="f" * 64, upstream_status=200)
    assert done.type == "request.completion"
    assert done.parent_id == decision.id and done.id != decision.id
    assert done.outcome == "masked" and done.status == 200 and done.bytes_out == 10
    assert done.policy_ids == ("p1", "p2") and done.duration_us is not None


def test_blake3_returned_is_encoded_only_when_set() -> None:
    """The streamed-body digest field is absent from every event that does
    not carry it, so those encode exactly as before it existed, and it
    survives a round trip through the canonical form."""
    cases = [
        ({"sha256_returned": "f" * 64}, None),
        ({"blake3_returned": "e" * 64}, "e" * 64),
        ({}, None),
    ]
    for digests, expected in cases:
        ev = request()
        ev.decision()
        done = ev.completion(200, bytes_out=10, **digests)
        data = json.loads(done.encode("gw-1"))
        assert ("blake3_returned" in data) == (expected is not None), digests
        assert data.get("blake3_returned") == expected
        assert data["sha256_returned"] == digests.get("sha256_returned")
        again = AuditEvent.from_json(data)
        assert again.blake3_returned == expected
        assert again.encode("gw-1") == done.encode("gw-1")


def test_single_phase_request_event() -> None:
    ev = request()
    ev.bytes_in, ev.sha256_received = 5, "a" * 64
    done = ev.completion(200, sha256_stored="b" * 64)
    assert done.type == "request" and done.parent_id is None
    data = json.loads(done.encode("gw-1"))
    assert data["schema"] == SCHEMA and data["replica_id"] == "gw-1"
    assert data["sha256_received"] == "a" * 64 and data["sha256_stored"] == "b" * 64
    assert data["principal"] == {
        "subject": "alice",
        "access_key_id": "ASIAEXAMPLE0001",
        "source": "session",
        "issuer": "https://idp.example",
        "role": "analyst",
        "groups": ["analysts"],
        "session_name": "nb",
    }


def test_outcomes() -> None:
    denied = RequestEvent("R", clock=lambda: NOW)
    denied.decide("deny", policy_ids=("forbid-audit",))
    assert denied.completion(403, error=errors.AccessDenied()).outcome == "denied"
    failed = request().completion(503, error=errors.ServiceUnavailable())
    assert failed.outcome == "failed" and failed.error_code == "ServiceUnavailable"
    unauthenticated = RequestEvent("R", clock=lambda: NOW)
    assert unauthenticated.completion(403, error=errors.SignatureDoesNotMatch()).outcome == "failed"
    assert request().completion(200).outcome == "allowed"
    blocked = request()
    blocked.outcome = "blocked"
    assert blocked.completion(403, error=errors.AccessDenied()).outcome == "blocked"
    assert request().completion(202, outcome="held").outcome == "held"


# Present only when set (a streamed body's BLAKE3, docs/audit.md).
OPTIONAL_FIELDS = {"blake3_returned"}


def test_every_field_is_always_present() -> None:
    data = json.loads(RequestEvent("R", clock=lambda: NOW).completion(200).encode("gw"))
    names = {f.name for f in fields(AuditEvent)} | {"schema"}
    assert set(data) == names - OPTIONAL_FIELDS


def test_no_secrets_or_claims_in_events() -> None:
    """A Principal may carry claims; a Credential carries the secret. Neither
    the secret nor the raw claims ever reach an event."""
    credential = Credential(
        secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", principal=principal()
    )
    ev = RequestEvent("R", clock=lambda: NOW)
    ev.set_principal(credential.principal)
    text = ev.completion(200).encode("gw").decode()
    assert credential.secret not in text
    assert "alice@example.com" not in text


def test_undecodable_keys_are_escaped_not_fatal() -> None:
    ev = RequestEvent("R", key="bad-\udcff-key", clock=lambda: NOW)
    data = json.loads(ev.completion(200).encode("gw"))
    assert data["key"] == "bad-\\udcff-key"


def test_round_trip() -> None:
    event = request().completion(200, bytes_out=3)
    again = AuditEvent.from_json(json.loads(event.encode("gw")))
    assert again.encode() == event.encode("gw")


def test_gateway_events() -> None:
    sts = builders.sts_exchange(
        "R",
        allowed=False,
        principal=None,
        role_arn="arn:aws:iam::000000000000:role/writer",
        error_code="InvalidIdentityToken",
        status=400,
        clock=lambda: NOW,
    )
    assert sts.type == "sts.exchange" and sts.outcome == "denied"
    assert sts.details["role_arn"] == "arn:aws:iam::000000000000:role/writer"
    loaded = builders.policy_bundle(
        loaded=True, bundle_hash="h", source="policies/", clock=lambda: NOW
    )
    rejected = builders.policy_bundle(
        loaded=False, bundle_hash="h2", source="policies/", error="bad rule", clock=lambda: NOW
    )
    assert (loaded.type, rejected.type) == ("policy.bundle_loaded", "policy.bundle_rejected")
    held = builders.approval(
        "approved",
        approval_id="A1",
        principal=PrincipalInfo("bob"),
        bucket="traces",
        key="k",
        clock=lambda: NOW,
    )
    assert held.type == "approval.approved" and held.details["approval_id"] == "A1"
    start = builders.system("gateway.start", clock=lambda: NOW, key_id="k1")
    assert json.loads(start.encode("gw"))["details"] == {"key_id": "k1"}


def test_event_ids_are_uuid7_and_unique() -> None:
    ids = {RequestEvent("R").completion(200).id for _ in range(1000)}
    assert len(ids) == 1000
    sample = next(iter(ids))
    assert sample[14] == "7" and sample[19] in "89ab"
