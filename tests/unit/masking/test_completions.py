"""Completion claims of staged uploads, on the local store: one holder per
lease number, a dead holder's lease taken over, the first outcome kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.masking.stagedparts import StagedUpload
from s3gate.masking.staging import Staging
from s3gate.s3.model import Conditions
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream

CREATE = Conditions(if_none_match="*")

KEY = b"k" * 32


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket("bkt")
    try:
        yield upstream
    finally:
        await upstream.close()


async def staged(store: LocalUpstream, lease_seconds: float = 60) -> tuple[Staging, StagedUpload]:
    staging = Staging({"k1": KEY}, "k1", 3600, lease_seconds)
    upload_id = await staging.create(store, "bkt", "a/b.jsonl", {}, ["write-default"])
    return staging, staging.open_id("bkt", "a/b.jsonl", upload_id)


@pytest.mark.parametrize("create_only", [True, False])
async def test_create_only_put_refuses_an_existing_key(
    store: LocalUpstream, create_only: bool
) -> None:
    await store.put_object("bkt", "x", Body.of(b"1"), {}, conditions=CREATE)
    if create_only:
        with pytest.raises(errors.PreconditionFailed):
            await store.put_object("bkt", "x", Body.of(b"2"), {}, conditions=CREATE)
    else:
        await store.put_object("bkt", "x", Body.of(b"2"), {})
    stream = await store.get_object("bkt", "x")
    body = b"".join([p async for p in stream.body])
    await stream.aclose()
    assert body == (b"1" if create_only else b"2")


async def test_concurrent_claims_have_one_winner(store: LocalUpstream) -> None:
    staging, upload = await staged(store)
    won = await asyncio.gather(*(staging.claim(store, upload, f"r{i}") for i in range(5)))
    assert [n for n in won if n is not None] == [0]


async def test_a_live_lease_is_kept_an_expired_one_taken_over(store: LocalUpstream) -> None:
    # A lease long enough that the checks on either side of the expiry run
    # well inside it on a loaded CI box (0.2 s was not).
    staging, upload = await staged(store, lease_seconds=1.5)
    assert await staging.claim(store, upload, "first") == 0
    assert await staging.claim(store, upload, "second") is None  # live
    await asyncio.sleep(1.7)  # the holder died: nobody renewed
    assert await staging.claim(store, upload, "second") == 1
    assert await staging.claim(store, upload, "third") is None


async def test_renewal_keeps_the_lease(store: LocalUpstream) -> None:
    staging, upload = await staged(store, lease_seconds=0.3)
    assert await staging.claim(store, upload, "holder") == 0
    for _ in range(3):
        await asyncio.sleep(0.15)
        await staging.renew(store, upload, 0, "holder")
        assert await staging.claim(store, upload, "other") is None


async def test_a_released_claim_can_be_claimed_again(store: LocalUpstream) -> None:
    staging, upload = await staged(store)
    assert await staging.claim(store, upload, "a") == 0
    await staging.release(store, upload, 0)
    assert await staging.claim(store, upload, "b") == 0


async def test_the_first_outcome_stands_and_parts_go(store: LocalUpstream) -> None:
    staging, upload = await staged(store)
    assert await staging.outcome(store, upload) is None
    await staging.record_outcome(store, upload, {"etag": '"a-1"', "version_id": None})
    await staging.record_outcome(store, upload, {"etag": '"b-1"', "version_id": None})
    assert await staging.outcome(store, upload) == {"etag": '"a-1"', "version_id": None}
    await staging.discard_parts(store, upload)
    left = await store.list_objects("bkt", prefix=upload.folder)
    assert [o.key for o in left.contents] == [upload.folder + "done"]
    with pytest.raises(errors.NoSuchUpload):  # no parts after the end
        await staging.meta(store, upload)
