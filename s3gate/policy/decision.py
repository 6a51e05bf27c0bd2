"""The outcome of one access request, as enforcement and audit see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from s3gate.policy import obligations as obl
from s3gate.policy.obligations import Obligations

# What determined a decision, for a denial message that says why without
# naming policies (policy/denials.py): permitted; no permit matched (default
# deny); an explicit `forbid`; a built-in guard; the evaluation failed.
Basis = Literal["permit", "default-deny", "forbid", "guard", "error"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Ids of the policies that determined the decision: the satisfied permits
    # when allowed, the satisfied forbids (or a `builtin:` guard) when denied;
    # empty for a default deny.
    policies: tuple[str, ...]
    obligations: Obligations
    bundle_hash: str
    reason: str
    action: str
    resource: str
    basis: Basis

    def describe(self) -> dict[str, object]:
        """A JSON-safe summary for audit events and `policy explain`."""
        return {
            "allowed": self.allowed,
            "action": self.action,
            "resource": self.resource,
            "policies": list(self.policies),
            "obligations": self.obligations.describe(),
            "bundle_hash": self.bundle_hash,
            "reason": self.reason,
        }


def combine(decisions: Sequence[Decision]) -> Decision:
    """One decision for an operation decided as several requests (CopyObject):
    allowed only if every part is; a denial names the first denied part."""
    if not decisions:
        raise ValueError("nothing to combine")  # an empty "all allowed" would fail open
    for decision in decisions:
        if not decision.allowed:
            return decision
    if len(decisions) == 1:
        return decisions[0]
    first = decisions[0]
    return Decision(
        allowed=True,
        policies=tuple(dict.fromkeys(p for d in decisions for p in d.policies)),
        obligations=obl.combine(d.obligations for d in decisions),
        bundle_hash=first.bundle_hash,
        reason="; ".join(f"{d.action} {d.resource}: {d.reason}" for d in decisions),
        action="+".join(d.action for d in decisions),
        resource=" -> ".join(d.resource for d in decisions),
        basis="permit",
    )
