"""Break-glass read grants: a requester asks for raw reads of
`bucket/prefix*` under an `@approval` policy, approvers grant it like a held
write, and each read under the grant is checked and audited (grants.py keeps
the markers the read path finds)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from s3gate import errors
from s3gate.approvals import grants
from s3gate.approvals.holdview import HoldView, clean_reason, may_decide
from s3gate.approvals.model import HoldRequest, HoldState, Requester
from s3gate.approvals.rules import rules_of
from s3gate.approvals.workflow import SWAP_ATTEMPTS, Workflow
from s3gate.identity.principal import Principal
from s3gate.policy import enforce
from s3gate.policy.decision import Decision
from s3gate.policy.model import RequestContext

MAX_GRANT_SECONDS = 12 * 3600


class GrantFlows(Workflow):
    # -- break-glass read grants ---------------------------------------------------------

    async def request_grant(
        self,
        who: Principal,
        *,
        role: str,
        bucket: str,
        prefix: str,
        reason: str,
        duration_seconds: int,
        request_id: str,
    ) -> HoldView:
        """A requester (signed in with the role's session) asks for raw reads
        of `bucket/prefix*` that an `@approval` policy guards."""
        reason = clean_reason(reason)
        if who.role != role:
            raise errors.ApprovalNotAllowed(
                f"Sign in with a session of role {role!r} to request its grant"
            )
        if not 60 <= duration_seconds <= MAX_GRANT_SECONDS:
            raise errors.InvalidArgument("The duration must be between 60 s and 12 h")
        bundle = self.policies.current()
        rules = rules_of(bundle.extras)
        context = RequestContext(
            operation="GetObject", now=datetime.fromtimestamp(self.clock(), UTC)
        )
        decision = enforce.authorize(bundle, who, "GetObject", bucket, prefix, context)
        if not decision.allowed:
            raise errors.AccessDenied("No policy lets this role read there, even with approval")
        names = list(decision.obligations.approvals)
        chosen = [rules.get(n) for n in names]
        if not names:
            raise errors.InvalidArgument("Reads there need no approval")
        if any(r is None for r in chosen):
            raise errors.AccessDenied("The approval rule for these reads is not configured")
        window = min(r.grant_window_seconds for r in chosen if r is not None)
        if duration_seconds > window:
            raise errors.InvalidArgument(f"The duration is at most the grant window ({window} s)")
        if not reason and any(r is not None and r.request_reason_required for r in chosen):
            raise errors.ApprovalNotAllowed("A reason is required to request this grant")
        now = self.clock()
        ttl = min(r.pending_ttl_seconds for r in chosen if r is not None)
        request = HoldRequest(
            hold_id=secrets.token_hex(12),
            bucket=bucket,
            key=prefix + "*",
            rules=tuple(names),
            reasons=tuple(f"policy:{p}" for p in decision.policies),
            detector_counts={},
            profiles=(),
            size=0,
            sha256="",
            bundle_hash=bundle.hash,
            created=now,
            expires=now + ttl,
            requester=Requester.of(who),
            metadata={},
            context={},
            request_id=request_id,
            content_kid=self.store.active,
            kind="read",
            prefix=prefix,
            duration_seconds=duration_seconds,
            requester_reason=reason,
        )
        await self.store.put_request(request)
        state = HoldState("pending", now)
        await self.store.create_state(bucket, request.hold_id, state)
        await self._event(
            "requested",
            request,
            who,
            reason=reason,
            prefix=prefix,
            duration_seconds=duration_seconds,
            rules=tuple(names),
        )
        self._notify("created", request, who, reason)
        return self._view(bundle, rules, request, state, None, "")

    async def revoke(self, hold_id: str, who: Principal, reason: str) -> HoldView:
        """An approver of its rules (or the requester) ends a grant early."""
        reason = clean_reason(reason)
        bucket = await self.store.locate(hold_id)
        for _ in range(SWAP_ATTEMPTS):
            bundle = self.policies.current()
            rules = rules_of(bundle.extras)
            request = await self.store.request(bucket, hold_id)
            state, etag = await self.store.state(bucket, hold_id)
            mine = grants.same_requester(request, who)
            if not mine and not may_decide(rules, request, who):
                raise errors.NoSuchHold()
            if request.kind != "read" or state.status != "granted":
                raise errors.HoldChanged(
                    f"Only a granted read request can be revoked ({state.status})"
                )
            final = state.but(
                status="revoked", updated=self.clock(), decided_by=who.subject, reason=reason
            )
            try:
                await self.store.swap_state(bucket, hold_id, final, etag)
            except errors.HoldChanged:
                continue
            await self._event("revoked", request, who, reason=reason)
            self._notify("revoked", request, who, reason)
            await grants.drop_marker(self.store, request)
            await self._destroy(request, "revoked")
            return self._view(bundle, rules, request, final, None, "")
        raise errors.HoldChanged("The grant keeps changing; try again")

    async def authorize_read(
        self, principal: Principal, bucket: str, key: str, decision: Decision, request_id: str
    ) -> str:
        """The id of a grant that covers this read (its audit event recorded,
        durable), or AccessDenied."""
        now = self.clock()
        for hold_id in await grants.candidates(self.store, bucket, principal):
            try:
                request = await self.store.request(bucket, hold_id)
                state, etag = await self.store.state(bucket, hold_id)
            except errors.NoSuchHold:
                continue
            if request.kind != "read" or state.status != "granted":
                continue
            if state.grant_until is None or now >= state.grant_until:
                await self._end_grant(request, state, etag)
                continue
            if not grants.same_requester(request, principal) or not key.startswith(request.prefix):
                continue
            if not set(decision.obligations.approvals) <= set(request.rules):
                continue
            await self._event("read", request, principal, read_key=key, read_request_id=request_id)
            return hold_id
        raise errors.AccessDenied(
            "Access Denied: this read needs an approved grant "
            "(s3gate approvals request --role … --bucket … --prefix … --reason …)",
            resource=f"/{bucket}/{key}",
        )

    async def _end_grant(self, request: HoldRequest, state: HoldState, etag: str) -> None:
        final = state.but(status="expired", updated=self.clock(), reason="grant window over")
        try:
            await self.store.swap_state(request.bucket, request.hold_id, final, etag)
        except errors.HoldChanged:
            return
        await self._event("expired", request, None, after="granted")
        self._notify("expired", request, None, "")
        await grants.drop_marker(self.store, request)
        await self._destroy(request, "expired")
