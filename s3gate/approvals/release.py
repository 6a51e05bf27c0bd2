"""Releasing an approved hold into its target key, crash-safely.

1. Claim: pending → releasing (compare-and-swap, names this replica and the
   time). Only the replica whose swap wins releases; the others see
   `releasing` and stop. A claim older than the lease (a replica that died
   mid-release) may be taken over by another replica's sweep, with the same
   swap, so again exactly one continues.
2. Write: the quarantined bytes go through the normal write path of the
   moment: the policy is decided again for the writer with the bundle in
   force (refused → the hold ends denied), the write profiles in force mask
   them (a new hold or block → back to pending, a new review is needed), and
   their SHA-256 must be the one the approvals named. Only then is the target
   written. Writing it twice (a takeover after a slow, not dead, replica) stores
   the same bytes: masking is deterministic.
3. Commit: releasing → released, then the quarantine is removed. Until that
   swap the quarantine stays, so a crash leaves the quarantine (and a state
   that says "resume me") or the released object, never neither.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from s3gate import errors
from s3gate.approvals.grants import put_marker
from s3gate.approvals.model import HoldRequest, HoldState, Status, Vote
from s3gate.approvals.rules import ApprovalRule, rules_of
from s3gate.approvals.store import HoldStore
from s3gate.identity.principal import Principal
from s3gate.masking.profiles import profiles_for
from s3gate.masking.service import MaskingService
from s3gate.masking.stamp import HeldCatcher, finish_metadata
from s3gate.policy import enforce
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import RequestContext

log = logging.getLogger("s3gate.approvals")
LEASE_SECONDS = 120.0


class EventSink(Protocol):
    def __call__(
        self, action: str, request: HoldRequest, who: Principal | None, **details: Any
    ) -> Awaitable[None]: ...


def valid_votes(
    rules: Sequence[ApprovalRule], request: HoldRequest, state: HoldState, bundle_hash: str
) -> list[Vote]:
    """Votes that still count: for these bytes and this bundle (content-bound),
    by an approver of one of the rules, and not the writer's own unless every
    rule allows self-approval."""
    self_ok = all(r.self_approval for r in rules)
    out = []
    for v in state.votes:
        if v.sha256 != request.sha256 or v.bundle_hash != bundle_hash:
            continue
        if not any(r.may_approve(v.groups) for r in rules):
            continue
        if (
            not self_ok
            and v.subject == request.requester.subject
            and (v.issuer == request.requester.issuer)
        ):
            continue
        out.append(v)
    return out


def satisfied(
    rules: Sequence[ApprovalRule], request: HoldRequest, state: HoldState, bundle_hash: str
) -> bool:
    votes = valid_votes(rules, request, state, bundle_hash)
    return all(sum(1 for v in votes if r.may_approve(v.groups)) >= r.required for r in rules)


class Releaser:
    def __init__(
        self,
        store: HoldStore,
        masking: MaskingService,
        event: EventSink,
        replica: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.masking = masking
        self.event = event
        self.replica = replica
        self.clock = clock

    async def release_if_ready(self, bucket: str, hold_id: str, bundle: Bundle) -> HoldState | None:
        """The state this replica's release ended in (released, denied, pending
        again, granted), or None when it did not act: not ready, or another
        replica claimed or decided it first. The final state object is removed
        with the quarantine, so this return value is the only place the
        outcome can be read from afterwards."""
        request = await self.store.request(bucket, hold_id)
        state, etag = await self.store.state(bucket, hold_id)
        if state.status != "pending":
            return None
        found = [rules_of(bundle.extras).get(n) for n in request.rules]
        rules = [r for r in found if r is not None]
        if len(rules) != len(found) or not satisfied(rules, request, state, bundle.hash):
            return None
        if request.kind == "read":
            return await self._grant(request, state, etag)
        claimed = state.but(status="releasing", releaser=self.replica, release_started=self.clock())
        try:
            await self.store.swap_state(bucket, hold_id, claimed, etag)
        except errors.HoldChanged:
            return None  # another replica claimed or decided it first
        return await self._release(request, bundle)

    async def _grant(self, request: HoldRequest, state: HoldState, etag: str) -> HoldState | None:
        """An approved read request: granted for its duration from now. The
        marker is written before the swap (a marker without a grant grants
        nothing; a grant without its marker could not be used)."""
        await put_marker(self.store, request)
        until = self.clock() + request.duration_seconds
        granted = state.but(status="granted", updated=self.clock(), grant_until=until)
        try:
            await self.store.swap_state(request.bucket, request.hold_id, granted, etag)
        except errors.HoldChanged:
            return None
        await self.event("granted", request, None, duration_seconds=request.duration_seconds)
        return granted

    async def resume(self, bucket: str, hold_id: str, bundle: Bundle) -> HoldState | None:
        """Take over a release whose replica's lease ran out."""
        state, etag = await self.store.state(bucket, hold_id)
        started = state.release_started or 0.0
        if state.status != "releasing" or self.clock() - started < LEASE_SECONDS:
            return None
        request = await self.store.request(bucket, hold_id)
        claimed = state.but(releaser=self.replica, release_started=self.clock())
        try:
            await self.store.swap_state(bucket, hold_id, claimed, etag)
        except errors.HoldChanged:
            return None
        return await self._release(request, bundle)

    async def _release(self, request: HoldRequest, bundle: Bundle) -> HoldState:
        """Write the target or refuse; the state the hold ends in."""
        principal = request.requester.principal()
        ctx = request.context
        context = RequestContext(
            operation="PutObject",
            source_ip=str(ctx.get("source_ip") or "0.0.0.0"),  # noqa: S104 - a value
            tls=bool(ctx.get("tls")),
            presigned=bool(ctx.get("presigned")),
            now=datetime.fromtimestamp(self.clock(), UTC),
            content_type=ctx.get("content_type"),
            content_length=ctx.get("content_length"),
        )
        decision = enforce.authorize(
            bundle, principal, "PutObject", request.bucket, request.key, context
        )
        if not decision.allowed:
            return await self._finish(
                request, "denied", "the policy in force no longer allows the write"
            )
        if not set(decision.obligations.approvals) <= set(request.rules):
            return await self._back_to_pending(
                request, "the policy in force asks for another approval"
            )
        profiles = profiles_for(bundle, decision.obligations.masks)
        digest = hashlib.sha256()

        async def hashed(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
            async for piece in source:
                digest.update(piece)
                yield piece

        content = hashed(
            self.store.open_content(request.bucket, request.hold_id, request.content_kid)
        )
        metadata = dict(request.metadata)
        held_before = {r.removeprefix("masking:") for r in request.reasons}
        with self.masking.spool() as spool:
            if profiles:
                masker = self.masking.masker(
                    profiles,
                    content_type=metadata.get("content-type"),
                    content_encoding=metadata.get("content-encoding"),
                    key=request.key,
                )
                catcher = HeldCatcher()
                try:
                    await spool.fill(catcher.watch(masker.transform(content)))
                except errors.AccessDenied:  # a block rule of the moment
                    return await self._back_to_pending(request, "the masking in force refuses it")
                if catcher.error is not None and not set(catcher.error.rule_ids) <= held_before:
                    return await self._back_to_pending(
                        request, "the masking in force holds new content"
                    )
                # The counts name what masking did at hold time and now.
                masker.summary.detectors.update(request.detector_counts)
                masker.summary.rejected.update(request.rejected_counts)
                masker.summary.records_rejected += request.records_rejected
                finish_metadata(metadata, masker.summary, bundle, spool.md5_hex)
            else:
                await spool.fill(content)
            metadata["x-amz-meta-s3gate-approval"] = request.hold_id
            if digest.hexdigest() != request.sha256:
                return await self._finish(request, "denied", "the quarantined bytes changed")
            await self.store.upstream.put_object(
                request.bucket, request.key, spool.body(), metadata
            )
            stored = spool.sha256_hex
        return await self._finish(request, "released", "approved", sha256_stored=stored)

    async def _finish(
        self, request: HoldRequest, status: Status, why: str, **details: Any
    ) -> HoldState:
        state, etag = await self.store.state(request.bucket, request.hold_id)
        final = state.but(status=status, updated=self.clock(), reason=why, releaser=None)
        if status == "denied":
            final = final.but(decided_by="gateway")
        await self.store.swap_state(request.bucket, request.hold_id, final, etag)
        await self.event(status, request, None, reason=why, **details)
        await self.store.destroy(request.bucket, request.hold_id)
        await self.event("destroyed", request, None, after=status)
        return final

    async def _back_to_pending(self, request: HoldRequest, why: str) -> HoldState:
        """The release was refused: the votes are spent, a new review is needed."""
        state, etag = await self.store.state(request.bucket, request.hold_id)
        again = state.but(status="pending", votes=(), releaser=None, release_started=None)
        await self.store.swap_state(request.bucket, request.hold_id, again, etag)
        await self.event("release_refused", request, None, reason=why)
        return again
