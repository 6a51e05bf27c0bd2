"""What an approver is shown of a hold, and the small rules every flow of
the workflow shares: which approval rules a hold names, who may decide it,
what a reason may be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s3gate import errors
from s3gate.approvals.model import HoldRequest, HoldState, iso
from s3gate.approvals.rules import ApprovalRule, ApprovalRules
from s3gate.identity.principal import Principal
from s3gate.policy.model import RequestContext

MAX_REASON = 1000


@dataclass(frozen=True)
class HoldView:
    """What an approver is shown: facts, counts and the preview, no values
    beyond the approver's own read view of the quarantined bytes."""

    request: HoldRequest
    state: HoldState
    rules: tuple[ApprovalRule, ...]
    bundle_hash: str  # the bundle the preview was computed with
    preview: str | None
    preview_note: str
    valid_votes: int

    def as_json(self, *, full: bool) -> dict[str, Any]:
        r = self.request
        out: dict[str, Any] = {
            "id": r.hold_id,
            "status": self.state.status,
            "bucket": r.bucket,
            "key": r.key,
            "requester": {"subject": r.requester.subject, "issuer": r.requester.issuer},
            "rules": [
                {"name": x.name, "required": x.required, "approvers": list(x.approvers)}
                for x in self.rules
            ],
            "reasons": list(r.reasons),
            "size": r.size,
            "sha256": r.sha256,
            "created": iso(r.created),
            "expires": iso(r.expires),
            "approvals": [
                {"subject": v.subject, "reason": v.reason, "at": iso(v.at)}
                for v in self.state.votes
            ],
            "valid_approvals": self.valid_votes,
            "kind": r.kind,
            # Why it ended so (`denied` by the gateway at release, say); None while pending.
            "outcome": self.state.reason,
        }
        if r.kind == "read":
            out.update(
                prefix=r.prefix,
                duration_seconds=r.duration_seconds,
                requester_reason=r.requester_reason,
                role=r.requester.role,
                grant_until=iso(self.state.grant_until) if self.state.grant_until else None,
            )
        if full:
            out.update(
                detector_counts=dict(r.detector_counts),
                rejected_counts=dict(r.rejected_counts),
                profiles=list(r.profiles),
                bundle_hash=self.bundle_hash,
                held_with_bundle=r.bundle_hash,
                preview=self.preview,
                preview_note=self.preview_note,
            )
        return out


def rules_for(rules: ApprovalRules, request: HoldRequest) -> list[ApprovalRule | None]:
    return [rules.get(n) for n in request.rules]


def may_decide(rules: ApprovalRules, request: HoldRequest, who: Principal) -> bool:
    """An approver of at least one of the hold's rules (a rule removed from
    the bundle makes its holds undecidable until it returns or they expire)."""
    return any(
        r is not None and r.may_approve(tuple(who.groups)) for r in rules_for(rules, request)
    )


def clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise errors.InvalidArgument(f"The reason is longer than {MAX_REASON} characters")
    if any(ord(c) < 32 for c in text):
        raise errors.InvalidArgument("The reason must be one line of text")
    return text


def context_json(context: RequestContext) -> dict[str, Any]:
    return {
        "source_ip": context.source_ip,
        "tls": context.tls,
        "presigned": context.presigned,
        "content_type": context.content_type,
        "content_length": context.content_length,
    }
