"""The record of what one request came to, for audit, access log and metrics.

The boxes of the data path fill a `Tally` while the request is in flight (the
call owns it: who, which operation, the decision, bytes and digests, the
masking summary, the error); `Tally.freeze` turns it into the frozen `Outcome`
that `auditing.py`, `accesslog.py` and `metrics.py` read. It is a record,
never a channel: no handler decides anything from it (a handler that needs a
digest gets it returned by the step that computed it).

A streamed body's bytes out are only known once its last byte has gone, so
the access log freezes the tally then, not when the handler returns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from s3gate.identity.principal import Principal
from s3gate.policy.decision import Decision
from s3gate.transform.summary import MaskSummary


@dataclass(frozen=True)
class Outcome:
    """One request, as it ended (or as far as it got)."""

    request_id: str
    method: str
    source_ip: str | None = None
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    principal: str | None = None
    access_key_id: str | None = None
    decision: Decision | None = None
    approval: str | None = None  # the read grant that allowed a GET/HEAD
    error: str | None = None  # the S3 (or STS) error code answered
    bytes_in: int | None = None
    bytes_out: int | None = None
    sha256_received: str | None = None
    sha256_stored: str | None = None
    mask_summary: MaskSummary | None = None
    # STS: the role asked for, and what a granted session is.
    role_arn: str | None = None
    issuer: str | None = None
    role: str | None = None
    session_access_key_id: str | None = None

    def log_fields(self) -> dict[str, object]:
        """The access-log line's fields (JSON-safe; None fields left out).
        Facts about the request only: never a body or a secret."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "decision":
                out["policy"] = value.describe()
            elif f.name == "mask_summary":
                out[f.name] = value.as_dict()
            else:
                out[f.name] = value
        return out


@dataclass
class Tally:
    """The `Outcome` under construction: mutable while the request runs,
    written by the boxes that learn each fact. `body_out` is the returned body
    when it was answered whole (small bodies, handlers.bodies), so the audit
    event can name its SHA-256; it is content and never logged."""

    request_id: str
    method: str
    source_ip: str | None = None
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    principal: str | None = None
    access_key_id: str | None = None
    decision: Decision | None = None
    approval: str | None = None
    error: str | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    body_out: bytes | None = None
    sha256_received: str | None = None
    sha256_stored: str | None = None
    mask_summary: MaskSummary | None = None
    role_arn: str | None = None
    issuer: str | None = None
    role: str | None = None
    session_access_key_id: str | None = None

    def target(self, operation: str, bucket: str | None, key: str | None) -> None:
        self.operation, self.bucket, self.key = operation, bucket, key

    def who(self, principal: Principal) -> None:
        self.principal, self.access_key_id = principal.subject, principal.access_key_id

    def session(self, principal: Principal) -> None:
        """The principal of a session STS granted (not the caller: STS is unsigned)."""
        self.principal = principal.subject
        self.issuer, self.role = principal.issuer, principal.role
        self.session_access_key_id = principal.access_key_id

    def returned_whole(self, body: bytes) -> None:
        self.bytes_out, self.body_out = len(body), body

    def freeze(self) -> Outcome:
        return Outcome(**{f.name: getattr(self, f.name) for f in fields(Outcome)})
