"""What a hold is: its immutable request, its mutable state, the votes.

Both travel as JSON (sealed, see store.py). The request is written once when
the write is held; the state is replaced by compare-and-swap on every change.

State machine (docs/approvals.md):

    pending ──approve (N of M reached)──▶ releasing ──target written──▶ released
   │   (a read request instead: ──▶ granted ──window over──▶ expired / ──revoke──▶ revoked)
       │                                      │ (a replica died: after the lease,
       ├──deny──────▶ denied                  │  another one resumes the release)
       └──TTL────────▶ expired                ▼
                                          denied (the policy of the moment refuses)

The quarantined bytes are removed only after a final state (released, denied,
expired) is committed, so a crash leaves either the quarantine or the target
object (with the state saying which), never neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from s3gate.identity.principal import Principal

Status = Literal["pending", "releasing", "released", "denied", "expired", "granted", "revoked"]
FINAL: frozenset[str] = frozenset({"released", "denied", "expired", "revoked"})


@dataclass(frozen=True)
class Requester:
    """The principal whose write was held, enough to decide for it again."""

    subject: str
    access_key_id: str
    source: Literal["static", "session"]
    groups: tuple[str, ...] = ()
    issuer: str | None = None
    role: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    claims: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, p: Principal) -> Requester:
        return cls(
            p.subject,
            p.access_key_id,
            p.source,
            tuple(p.groups),
            p.issuer,
            p.role,
            p.role_arn,
            p.session_name,
            dict(p.claims),
        )

    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            access_key_id=self.access_key_id,
            source=self.source,
            groups=self.groups,
            issuer=self.issuer,
            role=self.role,
            role_arn=self.role_arn,
            session_name=self.session_name,
            claims=dict(self.claims),
        )

    def same_person(self, p: Principal) -> bool:
        """Self-approval check: the same subject of the same issuer."""
        return p.subject == self.subject and p.issuer == self.issuer


@dataclass(frozen=True)
class HoldRequest:
    hold_id: str
    bucket: str
    key: str
    rules: tuple[str, ...]  # approval rule names that must all be satisfied
    reasons: tuple[str, ...]  # why held: "masking:<profile:detector>", "policy:<id>"
    detector_counts: Mapping[str, int]
    profiles: tuple[str, ...]  # write profiles the quarantined bytes were masked with
    size: int
    sha256: str  # of the quarantined (masked) bytes
    bundle_hash: str  # of the bundle that held it
    created: float
    expires: float
    requester: Requester
    metadata: Mapping[str, str]  # the client's stored headers
    context: Mapping[str, Any]  # request facts the policy may look at again
    request_id: str
    content_kid: str
    # A read grant request (break-glass) instead of a held write: no content;
    # once approved, raw reads of `bucket/prefix*` by the requester for
    # `duration_seconds`.
    kind: Literal["write", "read"] = "write"
    prefix: str = ""
    duration_seconds: int = 0
    requester_reason: str = ""
    # Records that record rules left out before quarantine (rule → records,
    # and in all), so the released object's stamp still counts them.
    rejected_counts: Mapping[str, int] = field(default_factory=dict)
    records_rejected: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldRequest:
        values = dict(data)
        req = dict(values.pop("requester"))
        req["groups"] = tuple(req.get("groups", ()))
        for name in ("rules", "reasons", "profiles"):
            values[name] = tuple(values[name])
        return cls(requester=Requester(**req), **values)


@dataclass(frozen=True)
class Vote:
    subject: str
    issuer: str | None
    groups: tuple[str, ...]
    reason: str
    at: float
    sha256: str  # what the approver was shown
    bundle_hash: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vote:
        return cls(**{**data, "groups": tuple(data.get("groups", ()))})


@dataclass(frozen=True)
class HoldState:
    status: Status
    updated: float
    votes: tuple[Vote, ...] = ()
    decided_by: str | None = None
    reason: str | None = None
    releaser: str | None = None  # replica that owns a release in progress
    release_started: float | None = None
    grant_until: float | None = None  # a granted read request: valid until

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldState:
        votes = tuple(Vote.from_json(v) for v in data.get("votes", ()))
        return cls(**{**data, "votes": votes})

    def but(self, **changes: Any) -> HoldState:
        return replace(self, **changes)


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
