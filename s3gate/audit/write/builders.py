"""Builders for the events the gateway records.

`RequestEvent` follows one S3 request: the handler fills it in as it learns
things (who, what, the policy decision, what masking did) and asks it for an
event at the two points where one must be durable:

    ev = RequestEvent(request_id, operation="GetObject", bucket=b, key=k, ...)
    ev.set_principal(principal)
    ev.decide("allow", policy_ids=("p1",), bundle_hash=h, obligations=("mask:analyst",))
    await audit.record(ev.decision())          # streamed GET: before the first byte
    ...                                        # send the body
    await audit.record(ev.completion(200, bytes_out=n, sha256_returned=digest))

A request that is answered in one go (PUT, HEAD, errors) only records
`completion()`, which is then a self-contained `request` event. A completion
after a decision is a `request.completion` naming the decision in `parent_id`
and repeating everything, so each event reads on its own.

The other functions build the gateway's own events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from s3gate import errors
from s3gate.audit.events import (
    AuditEvent,
    Detail,
    MaskingSummary,
    PrincipalInfo,
    new_event_id,
    utc_now,
)
from s3gate.identity.principal import Principal

Clock = Callable[[], datetime]


@dataclass
class RequestEvent:
    request_id: str
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    range: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    principal: PrincipalInfo | None = None
    policy_decision: str | None = None  # "allow" | "deny"
    policy_ids: tuple[str, ...] = ()
    bundle_hash: str | None = None
    obligations: tuple[str, ...] = ()
    masking: MaskingSummary | None = None
    # Set by the handler when it blocks or holds; otherwise derived.
    outcome: str | None = None
    bytes_in: int | None = None
    sha256_received: str | None = None
    sha256_stored: str | None = None
    upstream_status: int | None = None
    # e.g. the object version a request read or deleted (`version_id`).
    details: dict[str, Detail] = field(default_factory=dict)
    clock: Clock = utc_now
    started: float = field(default_factory=time.perf_counter)
    _decision_id: str | None = None

    def set_principal(self, principal: Principal) -> None:
        self.principal = PrincipalInfo.of(principal)

    def decide(
        self,
        decision: str,
        *,
        policy_ids: tuple[str, ...] = (),
        bundle_hash: str | None = None,
        obligations: tuple[str, ...] = (),
    ) -> None:
        if decision not in ("allow", "deny"):
            raise ValueError("decision is 'allow' or 'deny'")
        self.policy_decision = decision
        self.policy_ids = tuple(policy_ids)
        self.bundle_hash = bundle_hash
        self.obligations = tuple(obligations)

    def decision(self) -> AuditEvent:
        """The phase-one event of a streamed response (no status yet)."""
        event = self._event(
            "request.decision",
            outcome=self.outcome or ("denied" if self.policy_decision == "deny" else "allowed"),
        )
        self._decision_id = event.id
        return event

    def completion(
        self,
        status: int,
        *,
        bytes_out: int | None = None,
        sha256_returned: str | None = None,
        blake3_returned: str | None = None,
        sha256_stored: str | None = None,
        upstream_status: int | None = None,
        error: errors.S3Error | None = None,
        outcome: str | None = None,
    ) -> AuditEvent:
        """The final event: `request`, or `request.completion` after decision()."""
        if sha256_stored is not None:
            self.sha256_stored = sha256_stored
        if upstream_status is not None:
            self.upstream_status = upstream_status
        error_code = error.error_code if error is not None else None
        kind = "request" if self._decision_id is None else "request.completion"
        return self._event(
            kind,
            outcome=outcome or self.outcome or self._derive_outcome(status, error_code),
            parent_id=self._decision_id,
            status=status,
            error_code=error_code,
            bytes_out=bytes_out,
            sha256_returned=sha256_returned,
            blake3_returned=blake3_returned,
            duration_us=int((time.perf_counter() - self.started) * 1_000_000),
        )

    def _derive_outcome(self, status: int, error_code: str | None) -> str:
        if status >= 400 or error_code is not None:
            denied = self.policy_decision == "deny" or error_code == "AccessDenied"
            return "denied" if denied else "failed"
        if self.masking is not None and self.masking.total > 0:
            return "masked"
        return "allowed"

    def _event(self, kind: str, **extra: object) -> AuditEvent:
        return AuditEvent(
            type=kind,
            time=self.clock(),
            id=new_event_id(),
            request_id=self.request_id,
            principal=self.principal,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            operation=self.operation,
            bucket=self.bucket,
            key=self.key,
            range=self.range,
            decision=self.policy_decision,
            policy_ids=self.policy_ids,
            bundle_hash=self.bundle_hash,
            obligations=self.obligations,
            masking=self.masking,
            bytes_in=self.bytes_in,
            sha256_received=self.sha256_received,
            sha256_stored=self.sha256_stored,
            upstream_status=self.upstream_status,
            details=dict(self.details),
            **extra,  # type: ignore[arg-type]  # keyword names checked by the dataclass
        )


def sts_exchange(
    request_id: str,
    *,
    allowed: bool,
    principal: PrincipalInfo | None = None,
    role_arn: str | None = None,
    error_code: str | None = None,
    status: int,
    source_ip: str | None = None,
    user_agent: str | None = None,
    duration_us: int | None = None,
    clock: Clock = utc_now,
) -> AuditEvent:
    """AssumeRoleWithWebIdentity, granted or refused. `principal` is the
    validated identity (with the new session's access key id), None when the
    token did not validate; the token itself is never recorded."""
    return AuditEvent(
        type="sts.exchange",
        time=clock(),
        request_id=request_id,
        principal=principal,
        operation="AssumeRoleWithWebIdentity",
        decision="allow" if allowed else "deny",
        outcome="allowed" if allowed else "denied",
        status=status,
        error_code=error_code,
        source_ip=source_ip,
        user_agent=user_agent,
        duration_us=duration_us,
        details={"role_arn": role_arn},
    )


def policy_bundle(
    *,
    loaded: bool,
    bundle_hash: str | None,
    source: str,
    error: str | None = None,
    clock: Clock = utc_now,
) -> AuditEvent:
    """A policy bundle was loaded (now in force) or rejected (the old one stays).
    `error` is the validation message, which names files and rules only."""
    return AuditEvent(
        type="policy.bundle_loaded" if loaded else "policy.bundle_rejected",
        time=clock(),
        bundle_hash=bundle_hash,
        outcome="allowed" if loaded else "failed",
        details={"source": source, "error": error},
    )


def approval(
    action: str,
    *,
    approval_id: str,
    principal: PrincipalInfo | None,
    bucket: str | None,
    key: str | None,
    request_id: str | None = None,
    details: Mapping[str, Detail] | None = None,
    clock: Clock = utc_now,
) -> AuditEvent:
    """A held write changed state: `action` is held, approved, denied,
    released or destroyed."""
    return AuditEvent(
        type=f"approval.{action}",
        time=clock(),
        request_id=request_id,
        principal=principal,
        bucket=bucket,
        key=key,
        details={"approval_id": approval_id, **(details or {})},
    )


def system(kind: str, *, clock: Clock = utc_now, **details: Detail) -> AuditEvent:
    """The gateway's own events: gateway.start / gateway.stop,
    audit.key_rotated, audit.spool_recovered, audit.spool_resumed."""
    return AuditEvent(type=kind, time=clock(), details=details)
