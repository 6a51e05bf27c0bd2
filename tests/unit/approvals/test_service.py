"""The approval service over a real local store: conditional writes, the
release state machine under a crash and under concurrent replicas, expiry."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from s3gate import errors
from s3gate.approvals.release import LEASE_SECONDS
from s3gate.approvals.rules import ApprovalsPart
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.store import PREFIX, HoldStore
from s3gate.identity.principal import Principal
from s3gate.masking.profiles import MaskingPart
from s3gate.masking.service import MaskingService
from s3gate.policy.model import RequestContext
from s3gate.policy.settings import PolicySettings
from s3gate.policy.store import PolicyStore
from s3gate.s3.model import Conditions, Metadata, PutResult
from s3gate.transform.settings import MaskingSettings
from s3gate.transform.tokenkeys import TokenKeys, generate_json
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream

POLICIES = Path(__file__).resolve().parents[3] / "policies"
EXTRA = """
@id("t.write")
@mask("write-strict")
permit (principal is Service in Group::"writers", action in Action::"write", resource)
when { resource.bucket == "traces" };
"""
APPROVALS = "holds: sec\nrules:\n  sec: {approvers: [security], required: %d, pending_ttl: 1h}\n"
TRACE = b'{"msg":"all good"}\n'
WRITER = Principal("bot", "AKIAWRITER", "static", ("writers",))
SEC1 = Principal("sec1", "AKIASEC1", "static", ("security",))
SEC2 = Principal("sec2", "AKIASEC2", "static", ("security",))


class Store(LocalUpstream):
    """The local store, counting target writes and failing the next one on demand."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.target_puts = 0
        self.fail_next_target = False

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        metadata: Metadata,
        *,
        conditions: Conditions = Conditions(),
    ) -> PutResult:
        if not key.startswith(PREFIX):
            if self.fail_next_target:
                self.fail_next_target = False
                raise errors.ServiceUnavailable("the replica died here")
            self.target_puts += 1
        return await super().put_object(bucket, key, body, metadata, conditions=conditions)


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    upstream = Store(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket("traces")
    yield upstream
    await upstream.close()


def make_policies(tmp_path: Path, required: int) -> PolicyStore:
    folder = tmp_path / f"policies-{required}"
    if not folder.exists():
        shutil.copytree(POLICIES, folder)
        (folder / "access" / "t.cedar").write_text(EXTRA)
        (folder / "approvals.yaml").write_text(APPROVALS % required)
    parts = [MaskingPart(TokenKeys.from_json(generate_json())), ApprovalsPart()]
    return PolicyStore(PolicySettings(dir=folder), parts=parts)


def replica(
    tmp_path: Path, store: Store, clock: Clock, name: str, required: int = 1
) -> ApprovalService:
    key = {"k": b"\x07" * 32}
    masking = MaskingService(MaskingSettings(), tmp_path / name, key, "k")
    return ApprovalService(
        HoldStore(store, key, "k"), make_policies(tmp_path, required), masking, None, name,
        clock=clock,
    )  # fmt: skip


async def hold(service: ApprovalService, key: str) -> str:
    with service.masking.spool() as spool:

        async def body() -> AsyncIterator[bytes]:
            yield TRACE

        await spool.fill(body())
        with pytest.raises(errors.HeldForApproval) as caught:
            await service.hold(
                bundle=service.policies.current(),
                principal=WRITER,
                bucket="traces",
                key=key,
                spool=spool,
                summary=None,
                held_rules=("write-strict:internal_projects",),
                approvals=(),
                policy_ids=(),
                metadata={"content-type": "application/x-ndjson"},
                context=RequestContext(operation="PutObject"),
                request_id="R1",
            )
    assert caught.value.headers["x-s3gate-hold-id"] == caught.value.hold_id
    return caught.value.hold_id


async def approve(service: ApprovalService, hold_id: str, who: Principal) -> Any:
    seen = await service.show(hold_id, who)
    return await service.approve(hold_id, who, "ok", seen.request.sha256, seen.bundle_hash)


async def names(store: Store, hold_id: str) -> list[str]:
    page = await store.list_objects("traces", prefix=f"{PREFIX}{hold_id}/")
    return sorted(o.key.rsplit("/", 1)[1] for o in page.contents)


async def exists(store: Store, key: str) -> bool:
    try:
        await store.head_object("traces", key)
    except errors.NoSuchKey:
        return False
    return True


async def test_local_store_conditional_writes(store: Store) -> None:
    create = Conditions(if_none_match="*")
    first = await store.put_object("traces", "k", Body.of(b"1"), {}, conditions=create)
    with pytest.raises(errors.PreconditionFailed):
        await store.put_object("traces", "k", Body.of(b"2"), {}, conditions=create)
    with pytest.raises(errors.PreconditionFailed):
        await store.put_object(
            "traces", "k", Body.of(b"3"), {}, conditions=Conditions(if_match='"0"')
        )
    await store.put_object(
        "traces", "k", Body.of(b"4"), {}, conditions=Conditions(if_match=first.etag)
    )
    with pytest.raises(errors.NoSuchKey):
        await store.put_object(
            "traces", "nope", Body.of(b"5"), {}, conditions=Conditions(if_match=first.etag)
        )
    with pytest.raises(errors.NotImplementedError_):
        await store.put_object(
            "traces", "k", Body.of(b"6"), {}, conditions=Conditions(if_none_match='"x"')
        )
    stream = await store.get_object("traces", "k")
    assert b"".join([p async for p in stream.body]) == b"4"  # only the allowed writes landed


async def test_a_replica_killed_mid_release_leaves_the_quarantine_and_another_resumes(
    tmp_path: Path, store: Store
) -> None:
    clock = Clock()
    a, b = replica(tmp_path, store, clock, "a"), replica(tmp_path, store, clock, "b")
    hold_id = await hold(a, "x/run.jsonl")
    store.fail_next_target = True
    with pytest.raises(errors.ServiceUnavailable):
        await approve(a, hold_id, SEC1)
    # Died between the claim and the target write: quarantine whole, no target.
    assert await names(store, hold_id) == ["content", "request", "state"]
    assert not await exists(store, "x/run.jsonl")
    state, _ = await b.store.state("traces", hold_id)
    assert state.status == "releasing" and state.releaser == "a"
    await b.sweep()  # within the lease: nobody takes over
    assert (await b.store.state("traces", hold_id))[0].status == "releasing"
    clock.now += LEASE_SECONDS + 1
    await b.sweep()
    assert await exists(store, "x/run.jsonl") and await names(store, hold_id) == []
    assert store.target_puts == 1


async def test_concurrent_approvals_on_two_replicas_release_once(
    tmp_path: Path, store: Store
) -> None:
    clock = Clock()
    a, b = replica(tmp_path, store, clock, "a"), replica(tmp_path, store, clock, "b")
    ids = [await hold(a, f"x/{i}.jsonl") for i in range(5)]
    for hold_id in ids:
        seen = await a.show(hold_id, SEC1)
        args = (seen.request.sha256, seen.bundle_hash)
        results = await asyncio.gather(
            a.approve(hold_id, SEC1, "ok", *args),
            b.approve(hold_id, SEC2, "ok", *args),
            return_exceptions=True,
        )
        # One wins; the other finds it decided (or approves a released hold: gone).
        assert any(not isinstance(r, BaseException) for r in results)
        for r in results:
            assert not isinstance(r, BaseException) or isinstance(
                r, errors.HoldChanged | errors.NoSuchHold
            )
        assert await names(store, hold_id) == []
    assert store.target_puts == len(ids)


async def test_n_of_m_and_no_self_approval(tmp_path: Path, store: Store) -> None:
    clock = Clock()
    a = replica(tmp_path, store, clock, "a", required=2)
    hold_id = await hold(a, "x/pair.jsonl")
    me = Principal("bot", "AKIAOTHER", "static", ("security", "writers"))
    with pytest.raises(errors.ApprovalNotAllowed):
        await approve(a, hold_id, me)
    view = await approve(a, hold_id, SEC1)
    assert view.state.status == "pending" and view.valid_votes == 1
    view = await approve(a, hold_id, SEC1)  # the same approver twice is one vote
    assert view.valid_votes == 1 and not await exists(store, "x/pair.jsonl")
    await approve(a, hold_id, SEC2)
    assert await exists(store, "x/pair.jsonl")


async def test_expiry_destroys_the_quarantine(tmp_path: Path, store: Store) -> None:
    clock = Clock()
    a = replica(tmp_path, store, clock, "a")
    hold_id = await hold(a, "x/late.jsonl")
    clock.now += 3601
    assert await a.sweep() == 1
    assert await names(store, hold_id) == [] and not await exists(store, "x/late.jsonl")
    with pytest.raises(errors.NoSuchHold):
        await a.show(hold_id, SEC1)


async def test_sealed_state_cannot_be_edited_in_the_store(tmp_path: Path, store: Store) -> None:
    clock = Clock()
    a = replica(tmp_path, store, clock, "a")
    hold_id = await hold(a, "x/t.jsonl")
    forged = b'{"kid":"k","blob":"' + os.urandom(8).hex().encode() + b'"}'
    await store.put_object("traces", f"{PREFIX}{hold_id}/state", Body.of(forged), {})
    with pytest.raises(errors.InternalError):
        await approve(a, hold_id, SEC1)
    assert not await exists(store, "x/t.jsonl")


# Releases the gateway refuses at the last step: the hold ends `denied` and its
# quarantine is destroyed. `approve` must say so, not "released" (the state
# object is gone either way; the outcome is what the releaser decided).
REFUSED_RELEASES = [
    # (what changes between the hold and the approval, the policy text then)
    ("the policy in force no longer permits the write", EXTRA.replace('"traces"', '"elsewhere"')),
    ("a forbid now covers the writer", EXTRA + '\n@id("t.no")\nforbid (principal, action, resource)'
     ' when { resource.bucket == "traces" && resource.key like "x/*" };\n'),
]  # fmt: skip


@pytest.mark.parametrize(("why", "policy"), REFUSED_RELEASES, ids=[r[0] for r in REFUSED_RELEASES])
async def test_a_refused_release_is_reported_denied_not_released(
    tmp_path: Path, store: Store, why: str, policy: str
) -> None:
    clock = Clock()
    a = replica(tmp_path, store, clock, "a")
    hold_id = await hold(a, "x/refused.jsonl")
    (tmp_path / "policies-1" / "access" / "t.cedar").write_text(policy)
    assert a.policies.reload().status == "loaded"
    view = await approve(a, hold_id, SEC1)
    assert view.state.status == "denied", why
    assert view.state.decided_by == "gateway"
    assert not await exists(store, "x/refused.jsonl") and await names(store, hold_id) == []
    assert store.target_puts == 0


async def test_a_hold_another_replica_removed_is_released_only_if_its_key_says_so(
    tmp_path: Path, store: Store
) -> None:
    """The fallback when this replica did not act: the state object is gone,
    so only a target stamped with the hold's id counts as released."""
    clock = Clock()
    a, b = replica(tmp_path, store, clock, "a"), replica(tmp_path, store, clock, "b")
    released = await hold(a, "x/released.jsonl")
    request = await a.store.request("traces", released)
    assert (await approve(b, released, SEC2)).state.status == "released"
    assert (await a._state_or_final(request)).status == "released"
    denied = await hold(a, "x/denied.jsonl")
    request = await a.store.request("traces", denied)
    await b.deny(denied, SEC2, "no")
    with pytest.raises(errors.HoldChanged):
        await a._state_or_final(request)
    # A key written by someone else meanwhile is not this hold's release either.
    await store.put_object("traces", "x/denied.jsonl", Body.of(b"other"), {})
    with pytest.raises(errors.HoldChanged):
        await a._state_or_final(request)
