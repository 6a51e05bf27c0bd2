"""The audit event: one versioned, documented shape for everything audited.

Every event has every field of `AuditEvent` (null when not applicable), so a
reader never guesses which shape it holds; `schema` names the version. The
fields are listed in docs/audit.md. Events carry identifiers and hashes, never
secrets, tokens, signatures or body content: builders take explicit values,
not request headers.

Event types: `request` (one complete request), `request.decision` and
`request.completion` (the two phases of a streamed response: the decision is
durable before the first byte, the completion follows with the bytes sent),
`sts.exchange`, `policy.bundle_loaded`, `policy.bundle_rejected`,
`approval.<action>`, `audit.key_rotated`, `audit.spool_recovered`,
`audit.spool_resumed`, `gateway.start`, `gateway.stop`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from s3gate.audit import canonical
from s3gate.identity.principal import Principal

SCHEMA = "s3gate.audit/1"

# Values allowed in `details`: flat and JSON-safe.
Detail = str | int | bool | None | tuple[str, ...]


def utc_now() -> datetime:
    return datetime.now(UTC)


# Event ids need uniqueness, not unpredictability: a generator seeded from
# the OS per process (and re-seeded in a forked child) instead of a
# getrandom() system call per event, which costs more than encoding it.
_ids = random.Random(os.urandom(32))  # noqa: S311
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562): unique without coordination between replicas and
    ordered by creation time, so ids sort roughly like the timeline."""
    ms = time.time_ns() // 1_000_000
    rand = _ids.getrandbits(80)
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def clean_text(value: str | None) -> str | None:
    """Keys and user agents may hold lone surrogates (undecodable bytes); they
    cannot be encoded as UTF-8, so they are written as visible escapes."""
    if value is None:
        return None
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class PrincipalInfo:
    """Who acted, as the audit records it: identifiers only."""

    subject: str
    access_key_id: str | None = None
    source: str | None = None  # "static" | "session"
    issuer: str | None = None
    role: str | None = None
    groups: tuple[str, ...] = ()
    session_name: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> PrincipalInfo:
        return cls(
            subject=principal.subject,
            access_key_id=principal.access_key_id,
            source=principal.source,
            issuer=principal.issuer,
            role=principal.role,
            groups=tuple(principal.groups),
            session_name=principal.session_name,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": clean_text(self.subject),
            "access_key_id": self.access_key_id,
            "source": self.source,
            "issuer": self.issuer,
            "role": self.role,
            "groups": sorted(self.groups),
            "session_name": clean_text(self.session_name),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrincipalInfo:
        return cls(
            subject=data["subject"],
            access_key_id=data.get("access_key_id"),
            source=data.get("source"),
            issuer=data.get("issuer"),
            role=data.get("role"),
            groups=tuple(data.get("groups") or ()),
            session_name=data.get("session_name"),
        )


@dataclass(frozen=True)
class MaskingSummary:
    """What the content rules did to a body: counts, never the matches."""

    profile: str
    counts: Mapping[str, int] = field(default_factory=dict)  # detector → matches
    action: str | None = None  # "rewrite" | "block" | "hold" | None (nothing found)
    # Records left out per record rule ("profile:rule" → records); only in
    # the JSON when some were, so events without record rules read as before.
    rejected: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + sum(self.rejected.values())

    def as_json(self) -> dict[str, Any]:
        out = {"profile": self.profile, "counts": dict(self.counts), "action": self.action}
        if self.rejected:
            out["rejected"] = dict(self.rejected)
        return out


@dataclass(frozen=True)
class AuditEvent:
    type: str
    time: datetime
    id: str = field(default_factory=new_event_id)
    replica_id: str = ""  # stamped by AuditLog.record when empty
    request_id: str | None = None
    parent_id: str | None = None  # a completion names its decision event
    principal: PrincipalInfo | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    range: str | None = None
    decision: str | None = None  # "allow" | "deny"
    outcome: str | None = None  # allowed|denied|masked|blocked|held|failed
    policy_ids: tuple[str, ...] = ()
    bundle_hash: str | None = None
    obligations: tuple[str, ...] = ()
    masking: MaskingSummary | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    sha256_received: str | None = None
    sha256_stored: str | None = None
    sha256_returned: str | None = None
    # Only in a streamed response's completion event, and then only when it
    # is set (audit.returned_digest: blake3), so every other event, and every
    # event written before the field existed, encodes exactly as before.
    blake3_returned: str | None = None
    upstream_status: int | None = None
    status: int | None = None
    error_code: str | None = None
    duration_us: int | None = None
    details: Mapping[str, Detail] = field(default_factory=dict)

    def as_json(self, replica_id: str = "") -> dict[str, Any]:
        """The event as a JSON object; `replica_id` fills an empty one."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "id": self.id,
            "type": self.type,
            "time": canonical.format_time(self.time),
            "replica_id": self.replica_id or replica_id,
            "request_id": self.request_id,
            "parent_id": self.parent_id,
            "principal": None if self.principal is None else self.principal.as_json(),
            "source_ip": self.source_ip,
            "user_agent": clean_text(self.user_agent),
            "operation": self.operation,
            "bucket": self.bucket,
            "key": clean_text(self.key),
            "range": self.range,
            "decision": self.decision,
            "outcome": self.outcome,
            "policy_ids": list(self.policy_ids),
            "bundle_hash": self.bundle_hash,
            "obligations": list(self.obligations),
            "masking": None if self.masking is None else self.masking.as_json(),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "sha256_received": self.sha256_received,
            "sha256_stored": self.sha256_stored,
            "sha256_returned": self.sha256_returned,
            "upstream_status": self.upstream_status,
            "status": self.status,
            "error_code": self.error_code,
            "duration_us": self.duration_us,
            "details": {k: list(v) if isinstance(v, tuple) else v for k, v in self.details.items()},
        }
        if self.blake3_returned is not None:
            out["blake3_returned"] = self.blake3_returned
        return out

    def encode(self, replica_id: str = "") -> bytes:
        """Canonical JSON bytes: the form that is spooled, shipped and hashed."""
        return canonical.encode(self.as_json(replica_id))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEvent:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"unknown event schema {data.get('schema')!r}")
        masking = data.get("masking")
        principal = data.get("principal")
        details = {k: tuple(v) if isinstance(v, list) else v for k, v in data["details"].items()}
        simple = {k: data[k] for k in _SIMPLE}
        return cls(
            time=canonical.parse_time(data["time"]),
            principal=None if principal is None else PrincipalInfo.from_json(principal),
            policy_ids=tuple(data["policy_ids"]),
            obligations=tuple(data["obligations"]),
            masking=None if masking is None else MaskingSummary(**masking),
            details=details,
            blake3_returned=data.get("blake3_returned"),
            **simple,
        )


_SIMPLE = (
    "id",
    "type",
    "replica_id",
    "request_id",
    "parent_id",
    "source_ip",
    "user_agent",
    "operation",
    "bucket",
    "key",
    "range",
    "decision",
    "outcome",
    "bundle_hash",
    "bytes_in",
    "bytes_out",
    "sha256_received",
    "sha256_stored",
    "sha256_returned",
    "upstream_status",
    "status",
    "error_code",
    "duration_us",
)
