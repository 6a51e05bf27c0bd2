"""What an `AccessDenied` tells the client: why, never which policy said so.

Like AWS's "explicit deny in a … policy" / "no … policy allows", the message
names the class of reason — no policy allows the action on the resource, an
explicit `forbid` applies, a built-in guard applies (and which one: those are
documented behaviour, not policy) — plus the request id, under which the
audit trail keeps the determining policy ids and the bundle hash for
operators (`s3gate audit show --request-id ID`). Policy text and the
decision's internal reason never reach the client.

`policy.denial_detail` chooses how much is said:
- `none`: "Access Denied" and the request id, as S3 said before 2021;
- `reason` (default): the reason class;
- `policies`: the reason class and the determining policy ids (for
  development set-ups, where the client is the policy author).
"""

from __future__ import annotations

from typing import Literal

from s3gate.policy.decision import Decision
from s3gate.policy.guards import AUDIT_GUARD, INTERNAL_GUARD

DenialDetail = Literal["none", "reason", "policies"]
DEFAULT_DETAIL: DenialDetail = "reason"

_GUARDS = {
    AUDIT_GUARD: "the audit bucket is read-only through the gateway",
    INTERNAL_GUARD: "the gateway's internal prefix is not reachable by clients",
}


def reason_class(decision: Decision) -> str:
    """The client-facing reason of a denial (empty for an allowed decision)."""
    if decision.allowed:
        return ""
    what = f"{decision.action} on {decision.resource}"
    if decision.basis == "guard":
        guards = [_GUARDS.get(p, "a built-in guard applies") for p in decision.policies]
        return f"a built-in guard denies {what}: " + "; ".join(guards or ["a guard applies"])
    if decision.basis == "forbid":
        return f"an explicit deny (forbid) in the access policies applies to {what}"
    if decision.basis == "error":
        return f"the access policies could not be evaluated for {what} (denied, fail closed)"
    return f"no access policy allows {what}"


def message(decision: Decision, request_id: str, detail: DenialDetail = DEFAULT_DETAIL) -> str:
    """The `AccessDenied` message for a denied decision."""
    tail = f" (request id {request_id}; operators: s3gate audit show --request-id {request_id})"
    if detail == "none":
        return "Access Denied" + tail
    text = "Access Denied: " + reason_class(decision)
    if detail == "policies" and decision.basis in ("forbid", "guard") and decision.policies:
        text += " [" + ", ".join(decision.policies) + "]"
    return text + tail


def approval_message(request_id: str, hold_id: str | None = None) -> str:
    """The message of a request that needs an approval first."""
    held = f" (hold {hold_id})" if hold_id else ""
    return f"Access Denied: approval required{held} (request id {request_id})"
