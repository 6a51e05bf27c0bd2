"""The machinery every approval flow shares: the hold's state in the store,
its audit events and notifications, expiry and destruction, and the view an
approver is shown. `ApprovalService` (service.py: holding writes, deciding,
the sweep) and `GrantFlows` (breakglass.py: break-glass read grants) build on
it; nothing is kept in memory between requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from s3gate import errors
from s3gate.approvals import notify
from s3gate.approvals.holdview import HoldView, may_decide, rules_for
from s3gate.approvals.model import HoldRequest, HoldState
from s3gate.approvals.release import Releaser, valid_votes
from s3gate.approvals.rules import ApprovalRules
from s3gate.approvals.store import HoldStore
from s3gate.audit.events import Detail, PrincipalInfo
from s3gate.audit.write.builders import approval as approval_event
from s3gate.audit.write.log import AuditLog
from s3gate.identity.principal import Principal
from s3gate.masking.service import MaskingService
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import RequestContext
from s3gate.policy.store import PolicyStore

SWAP_ATTEMPTS = 5


class Workflow:
    def __init__(
        self,
        store: HoldStore,
        policies: PolicyStore,
        masking: MaskingService,
        audit: AuditLog | None,
        replica: str,
        notifier: notify.Notifier | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.policies = policies
        self.masking = masking
        self.audit = audit
        self.notifier = notifier
        self.clock = clock or (lambda: datetime.now(UTC).timestamp())
        self.releaser = Releaser(store, masking, self._release_event, replica, self.clock)

    # -- the shared machinery ---------------------------------------------------------

    async def _current(self, bucket: str, hold_id: str) -> tuple[HoldRequest, HoldState]:
        request = await self.store.request(bucket, hold_id)
        state, etag = await self.store.state(bucket, hold_id)
        if state.status == "pending" and self.clock() >= request.expires:
            expired = await self._expire(request, state, etag)
            state = expired if expired is not None else (await self.store.state(bucket, hold_id))[0]
        return request, state

    async def _pending(
        self, bucket: str, hold_id: str
    ) -> tuple[HoldRequest, tuple[HoldState, str]]:
        request = await self.store.request(bucket, hold_id)
        state, etag = await self.store.state(bucket, hold_id)
        if state.status == "pending" and self.clock() >= request.expires:
            await self._expire(request, state, etag)
            raise errors.HoldChanged("The hold expired before it was decided; it is destroyed")
        if state.status != "pending":
            raise errors.HoldChanged(f"The hold is {state.status}, no longer pending")
        return request, (state, etag)

    async def _state_or_final(self, request: HoldRequest) -> HoldState:
        """The hold's state now. Gone means another replica decided it and
        removed it meanwhile: released only if the target object says it came
        from this hold (the release stamps its id); a hold that ended any
        other way (denied at release, say) is not reported as released."""
        try:
            return (await self.store.state(request.bucket, request.hold_id))[0]
        except errors.NoSuchHold:
            pass
        try:
            head = await self.store.upstream.head_object(request.bucket, request.key)
        except errors.S3Error:
            head = None
        stamp = head.metadata.get("x-amz-meta-s3gate-approval") if head is not None else None
        if stamp == request.hold_id:
            return HoldState("released", self.clock())
        raise errors.HoldChanged(
            "Your approval was recorded, but the hold was decided meanwhile and not "
            "released; its history: s3gate audit show --approval " + request.hold_id
        )

    async def _expire(self, request: HoldRequest, state: HoldState, etag: str) -> HoldState | None:
        """The final state, or None if someone else decided (or expired) it first."""
        final = state.but(status="expired", updated=self.clock(), reason="pending TTL passed")
        try:
            await self.store.swap_state(request.bucket, request.hold_id, final, etag)
        except errors.HoldChanged:
            return None
        await self._event("expired", request, None)
        self._notify("expired", request, None, "")
        await self._destroy(request, "expired")
        return final

    async def _destroy(self, request: HoldRequest, why: str) -> None:
        await self.store.destroy(request.bucket, request.hold_id)
        await self._event("destroyed", request, None, after=why)

    def _check_decider(
        self, rules: ApprovalRules, request: HoldRequest, who: Principal, *, denying: bool = False
    ) -> None:
        chosen = rules_for(rules, request)
        if not may_decide(rules, request, who):
            raise errors.NoSuchHold()
        self_ok = all(r is not None and r.self_approval for r in chosen)
        if request.requester.same_person(who) and not self_ok and not denying:
            raise errors.ApprovalNotAllowed("You may not approve your own request")

    def _view(
        self,
        bundle: Bundle,
        rules: ApprovalRules,
        request: HoldRequest,
        state: HoldState,
        text: str | None,
        note: str,
    ) -> HoldView:
        chosen = tuple(r for r in rules_for(rules, request) if r is not None)
        counted = len(valid_votes(chosen, request, state, bundle.hash)) if chosen else 0
        return HoldView(request, state, chosen, bundle.hash, text, note, counted)

    def _read_context(self) -> RequestContext:
        return RequestContext(operation="GetObject", now=datetime.fromtimestamp(self.clock(), UTC))

    async def _event(
        self, action: str, request: HoldRequest, who: Principal | None, **details: Detail
    ) -> None:
        if self.audit is None:
            return
        await self.audit.record(
            approval_event(
                action,
                approval_id=request.hold_id,
                principal=PrincipalInfo.of(who) if who is not None else None,
                bucket=request.bucket,
                key=request.key,
                request_id=request.request_id,
                details=details,
            )
        )

    async def _release_event(
        self, action: str, request: HoldRequest, who: Principal | None, **details: Detail
    ) -> None:
        """The releaser's events; its outcomes are also notified."""
        await self._event(action, request, who, **details)
        if action in ("released", "denied", "release_refused", "granted"):
            reason = details.get("reason")
            self._notify(action, request, who, reason if isinstance(reason, str) else "")

    def _notify(self, kind: str, request: HoldRequest, who: Principal | None, reason: str) -> None:
        if self.notifier is not None:
            self.notifier.send(notify.message(kind, request, who, reason))
