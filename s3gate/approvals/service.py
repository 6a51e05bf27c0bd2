"""The approval workflow: hold a write, list, show, approve, deny, expire.

Every replica runs one `ApprovalService` over the same store; nothing is
kept in memory between requests. Each state change is a compare-and-swap on
the hold's state object (store.py) and an `approval.*` audit event, durable
before the caller is answered. Releasing is release.py's job; break-glass
grants are breakglass.py's; the machinery they share is workflow.py's.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import NoReturn

from s3gate import errors
from s3gate.approvals.breakglass import GrantFlows
from s3gate.approvals.holdview import HoldView, clean_reason, context_json, may_decide, rules_for
from s3gate.approvals.model import FINAL, HoldRequest, HoldState, Requester, Vote, iso
from s3gate.approvals.preview import preview
from s3gate.approvals.rules import rules_of
from s3gate.approvals.workflow import SWAP_ATTEMPTS
from s3gate.identity.principal import Principal
from s3gate.masking.spool import Spool
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import RequestContext
from s3gate.transform.summary import MaskSummary

log = logging.getLogger("s3gate.approvals")


class ApprovalService(GrantFlows):
    """The approval workflow of one replica: holding a write, the approvers'
    actions and the sweep here; break-glass grants in `GrantFlows`; the shared
    machinery in `Workflow`."""

    # -- holding a write (the data path) -----------------------------------------------

    async def hold(
        self,
        *,
        bundle: Bundle,
        principal: Principal,
        bucket: str,
        key: str,
        spool: Spool,
        summary: MaskSummary | None,
        held_rules: Sequence[str],
        approvals: Sequence[str],
        policy_ids: Sequence[str],
        metadata: Mapping[str, str],
        context: RequestContext,
        request_id: str,
    ) -> NoReturn:
        """Quarantine the spooled (masked) bytes and refuse the write with
        HeldForApproval naming the hold. Fails closed (AccessDenied) when no
        approval rule covers it."""
        rules = rules_of(bundle.extras)
        names = list(dict.fromkeys(approvals))
        if held_rules:
            if rules.holds is None:
                raise errors.AccessDenied(
                    "Access Denied: content requires approval, and no approval rule "
                    "(approvals.yaml `holds`) is configured",
                    resource=f"/{bucket}/{key}",
                )
            names.append(rules.holds)
        names = list(dict.fromkeys(names))
        chosen = [rules.get(n) for n in names]
        if not names or any(r is None for r in chosen):
            raise errors.AccessDenied(
                "Access Denied: this write requires an approval rule that is not configured",
                resource=f"/{bucket}/{key}",
            )
        ttl = min(r.pending_ttl_seconds for r in chosen if r is not None)
        now = self.clock()
        hold_id = secrets.token_hex(12)
        counts: dict[str, int] = {}
        if summary is not None:
            counts = {**summary.detectors, **summary.rules}
        request = HoldRequest(
            hold_id=hold_id,
            bucket=bucket,
            key=key,
            rules=tuple(names),
            reasons=tuple(
                [f"masking:{r}" for r in held_rules] + [f"policy:{p}" for p in policy_ids]
            ),
            detector_counts=counts,
            rejected_counts=dict(summary.rejected) if summary is not None else {},
            records_rejected=summary.records_rejected if summary is not None else 0,
            profiles=tuple(summary.profiles) if summary is not None else (),
            size=spool.length,
            sha256=spool.sha256_hex,
            bundle_hash=bundle.hash,
            created=now,
            expires=now + ttl,
            requester=Requester.of(principal),
            metadata=dict(metadata),
            context=context_json(context),
            request_id=request_id,
            content_kid=self.store.active,
        )
        # Content and request first, state last: a hold without a state is
        # invisible and swept; a state always has its bytes.
        await self.store.put_content(bucket, hold_id, spool.body())
        await self.store.put_request(request)
        await self.store.create_state(bucket, hold_id, HoldState("pending", now))
        await self._event(
            "held",
            request,
            principal,
            rules=tuple(names),
            reasons=request.reasons,
            sha256=request.sha256,
            size=request.size,
            expires=iso(request.expires),
        )
        self._notify("created", request, None, "")
        raise errors.HeldForApproval(hold_id, ", ".join(names), resource=f"/{bucket}/{key}")

    # -- approver actions ---------------------------------------------------------------

    async def list_for(self, who: Principal) -> list[HoldView]:
        """Pending holds `who` may decide (approvers see only their rules' holds)."""
        bundle = self.policies.current()
        rules = rules_of(bundle.extras)
        found: list[HoldView] = []
        for bucket, hold_id in await self.store.all_ids():
            try:
                request, state = await self._current(bucket, hold_id)
            except errors.S3Error:
                continue  # half-written or already removed: the sweep's business
            if state.status != "pending" or not may_decide(rules, request, who):
                continue
            found.append(self._view(bundle, rules, request, state, None, ""))
        found.sort(key=lambda v: v.request.created)
        return found

    async def show(self, hold_id: str, who: Principal) -> HoldView:
        bundle = self.policies.current()
        rules = rules_of(bundle.extras)
        bucket = await self.store.locate(hold_id)
        request, state = await self._current(bucket, hold_id)
        if not may_decide(rules, request, who):
            raise errors.NoSuchHold()  # a non-approver learns nothing, not even existence
        text, note = None, "the hold is no longer pending"
        if request.kind == "read":
            note = "a read grant request: nothing is quarantined"
        elif state.status == "pending":
            text, note = await preview(
                self.store, self.masking, bundle, who, request, self._read_context()
            )
        await self._event("viewed", request, who, preview=text is not None)
        return self._view(bundle, rules, request, state, text, note)

    async def approve(
        self, hold_id: str, who: Principal, reason: str, sha256: str, bundle_hash: str
    ) -> HoldView:
        reason = clean_reason(reason)
        bucket = await self.store.locate(hold_id)
        for _ in range(SWAP_ATTEMPTS):
            bundle = self.policies.current()
            rules = rules_of(bundle.extras)
            request, (state, etag) = await self._pending(bucket, hold_id)
            self._check_decider(rules, request, who)
            if not secrets.compare_digest(sha256, request.sha256) or not secrets.compare_digest(
                bundle_hash, bundle.hash
            ):
                raise errors.HoldChanged(
                    "The quarantined bytes or the policy bundle differ from what you "
                    "reviewed: show the hold again and review it anew"
                )
            if any(r is not None and r.reason_required for r in rules_for(rules, request)) and (
                not reason
            ):
                raise errors.ApprovalNotAllowed("A reason is required to approve")
            vote = Vote(
                who.subject,
                who.issuer,
                tuple(who.groups),
                reason,
                self.clock(),
                sha256,
                bundle.hash,
            )
            votes = (*(v for v in state.votes if v.subject != who.subject), vote)
            try:
                await self.store.swap_state(
                    bucket, hold_id, state.but(votes=votes, updated=self.clock()), etag
                )
            except errors.HoldChanged:
                continue
            await self._event("approved", request, who, reason=reason, bundle_hash=bundle.hash)
            self._notify("approved", request, who, reason)
            # What our own release decided; only if we did not act (not
            # ready yet, or another replica's), the store says.
            outcome = await self.releaser.release_if_ready(bucket, hold_id, self.policies.current())
            if outcome is None:
                outcome = await self._state_or_final(request)
            return self._view(bundle, rules, request, outcome, None, "")
        raise errors.HoldChanged("The hold keeps changing; try again")

    async def deny(self, hold_id: str, who: Principal, reason: str) -> HoldView:
        reason = clean_reason(reason)
        if not reason:
            raise errors.ApprovalNotAllowed("A reason is required to deny")
        bucket = await self.store.locate(hold_id)
        for _ in range(SWAP_ATTEMPTS):
            bundle = self.policies.current()
            rules = rules_of(bundle.extras)
            request, (state, etag) = await self._pending(bucket, hold_id)
            self._check_decider(rules, request, who, denying=True)
            final = state.but(
                status="denied", updated=self.clock(), decided_by=who.subject, reason=reason
            )
            try:
                await self.store.swap_state(bucket, hold_id, final, etag)
            except errors.HoldChanged:
                continue
            await self._event("denied", request, who, reason=reason)
            self._notify("denied", request, who, reason)
            await self._destroy(request, "denied")
            return self._view(bundle, rules, request, final, None, "")
        raise errors.HoldChanged("The hold keeps changing; try again")

    async def sweep(self) -> int:
        """Expire overdue holds, resume releases a dead replica left, remove
        what final holds left behind. Safe on every replica at once."""
        done = 0
        for bucket, hold_id in await self.store.all_ids():
            try:
                state, etag = await self.store.state(bucket, hold_id)
            except errors.NoSuchHold:
                await self.store.destroy(bucket, hold_id)  # never completed: no state
                continue
            except errors.S3Error:
                continue
            try:
                if state.status in FINAL:
                    await self.store.destroy(bucket, hold_id)
                elif state.status == "pending":
                    request = await self.store.request(bucket, hold_id)
                    if self.clock() >= request.expires and await self._expire(request, state, etag):
                        done += 1
                elif state.status == "releasing":
                    await self.releaser.resume(bucket, hold_id, self.policies.current())
                elif state.status == "granted" and self.clock() >= (state.grant_until or 0.0):
                    await self._end_grant(await self.store.request(bucket, hold_id), state, etag)
                    done += 1
            except errors.S3Error as exc:
                log.warning("approvals sweep: hold %s: %s", hold_id, exc.error_code)
        return done
