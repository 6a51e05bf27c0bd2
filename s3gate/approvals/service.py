"""The approval workflow: hold a write, list, show, approve, deny, expire.

Every replica runs one `ApprovalService` over the same store; nothing is
kept in memory between requests. Each state change is a compare-and-swap on
the hold's state object (store.py) and an `approval.*` audit event, durable
before the caller is answered. Releasing is release.py's job.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from s3gate import errors
from s3gate.approvals import grants, notify
from s3gate.approvals.model import FINAL, HoldRequest, HoldState, Requester, Vote, iso
from s3gate.approvals.preview import preview
from s3gate.approvals.release import Releaser, valid_votes
from s3gate.approvals.rules import ApprovalRule, ApprovalRules, rules_of
from s3gate.approvals.store import HoldStore
from s3gate.audit.events import Detail, PrincipalInfo
from s3gate.audit.write.builders import approval as approval_event
from s3gate.audit.write.log import AuditLog
from s3gate.identity.principal import Principal
from s3gate.masking.service import MaskingService
from s3gate.masking.spool import Spool
from s3gate.policy import enforce
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.model import RequestContext
from s3gate.policy.store import PolicyStore
from s3gate.transform.summary import MaskSummary

log = logging.getLogger("s3gate.approvals")
MAX_REASON = 1000
MAX_GRANT_SECONDS = 12 * 3600
_SWAP_ATTEMPTS = 5


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
                profiles=list(r.profiles),
                bundle_hash=self.bundle_hash,
                held_with_bundle=r.bundle_hash,
                preview=self.preview,
                preview_note=self.preview_note,
            )
        return out


class ApprovalService:
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
            profiles=tuple(summary.profiles) if summary is not None else (),
            size=spool.length,
            sha256=spool.sha256_hex,
            bundle_hash=bundle.hash,
            created=now,
            expires=now + ttl,
            requester=Requester.of(principal),
            metadata=dict(metadata),
            context=_context_json(context),
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
            if state.status != "pending" or not _may_decide(rules, request, who):
                continue
            found.append(self._view(bundle, rules, request, state, None, ""))
        found.sort(key=lambda v: v.request.created)
        return found

    async def show(self, hold_id: str, who: Principal) -> HoldView:
        bundle = self.policies.current()
        rules = rules_of(bundle.extras)
        bucket = await self.store.locate(hold_id)
        request, state = await self._current(bucket, hold_id)
        if not _may_decide(rules, request, who):
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
        reason = _reason(reason)
        bucket = await self.store.locate(hold_id)
        for _ in range(_SWAP_ATTEMPTS):
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
            if any(r is not None and r.reason_required for r in _rules(rules, request)) and (
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
            await self.releaser.release_if_ready(bucket, hold_id, self.policies.current())
            request_state = await self._state_or_final(bucket, hold_id)
            return self._view(bundle, rules, request, request_state, None, "")
        raise errors.HoldChanged("The hold keeps changing; try again")

    async def deny(self, hold_id: str, who: Principal, reason: str) -> HoldView:
        reason = _reason(reason)
        if not reason:
            raise errors.ApprovalNotAllowed("A reason is required to deny")
        bucket = await self.store.locate(hold_id)
        for _ in range(_SWAP_ATTEMPTS):
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
        reason = _reason(reason)
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
        reason = _reason(reason)
        bucket = await self.store.locate(hold_id)
        for _ in range(_SWAP_ATTEMPTS):
            bundle = self.policies.current()
            rules = rules_of(bundle.extras)
            request = await self.store.request(bucket, hold_id)
            state, etag = await self.store.state(bucket, hold_id)
            mine = grants.same_requester(request, who)
            if not mine and not _may_decide(rules, request, who):
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

    # -- helpers -----------------------------------------------------------------------

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

    async def _state_or_final(self, bucket: str, hold_id: str) -> HoldState:
        try:
            return (await self.store.state(bucket, hold_id))[0]
        except errors.NoSuchHold:
            return HoldState("released", self.clock())

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
        chosen = _rules(rules, request)
        if not _may_decide(rules, request, who):
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
        chosen = tuple(r for r in _rules(rules, request) if r is not None)
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


def _rules(rules: ApprovalRules, request: HoldRequest) -> list[ApprovalRule | None]:
    return [rules.get(n) for n in request.rules]


def _may_decide(rules: ApprovalRules, request: HoldRequest, who: Principal) -> bool:
    """An approver of at least one of the hold's rules (a rule removed from
    the bundle makes its holds undecidable until it returns or they expire)."""
    return any(r is not None and r.may_approve(tuple(who.groups)) for r in _rules(rules, request))


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise errors.InvalidArgument(f"The reason is longer than {MAX_REASON} characters")
    if any(ord(c) < 32 for c in text):
        raise errors.InvalidArgument("The reason must be one line of text")
    return text


def _context_json(context: RequestContext) -> dict[str, Any]:
    return {
        "source_ip": context.source_ip,
        "tls": context.tls,
        "presigned": context.presigned,
        "content_type": context.content_type,
        "content_length": context.content_length,
    }
