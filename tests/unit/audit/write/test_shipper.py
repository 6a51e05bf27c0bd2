"""Shipping to the audit bucket (local store and moto over HTTP): batches and
manifests, heartbeats, restarts mid-shipment, an unreachable bucket, state
loss, two processes on one replica id, key rotation."""

from __future__ import annotations

import asyncio
import errno
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from s3gate import errors
from s3gate.audit import batch as batches
from s3gate.audit import canonical
from s3gate.audit.keys import generate, load_directory
from s3gate.audit.write import log as log_module
from s3gate.audit.write.log import AuditLog
from s3gate.s3.model import Metadata, PutResult
from s3gate.upstream.base import Body, Upstream
from tests.unit.audit.helpers import (
    FailingDisk,
    Faulty,
    Store,
    all_keys,
    batch_key,
    crash,
    event,
    get,
    manifest_key,
    settings,
    shipped_events,
    trusted,
    verify,
    wait_for,
)


def ids(events: list[dict[str, Any]], kind: str = "request") -> list[str]:
    return [str(e["request_id"]) for e in events if e["type"] == kind]


async def test_events_are_shipped_and_the_chain_verifies(store: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    await asyncio.gather(*(audit.record(event(n)) for n in range(100)))
    await wait_for(lambda: audit.spool.backlog_events == 0)
    assert audit.status()["last_shipped_sequence"] >= 1
    await audit.close()

    events = await shipped_events(store)
    assert sorted(ids(events)) == sorted(f"req-{n}" for n in range(100))
    assert events[0]["type"] == "gateway.start"
    assert events[-1]["type"] == "gateway.stop"
    keys = await all_keys(store)
    assert f"s3gate/v1/keys/{audit.public_keys()['active_kid']}.pem" in keys
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()
    assert report.replicas[0].final  # close() ended with a final manifest
    assert report.replicas[0].events == len(events)


async def test_full_batches_ship_without_waiting(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(
        settings(tmp_path, local, batch_max_events=10, batch_max_seconds=3600),
        local.upstream,
        "gw-0",
        data_dir=tmp_path,
    )
    await audit.start()
    await asyncio.gather(*(audit.record(event(n)) for n in range(35)))
    await wait_for(lambda: audit.spool.backlog_events < 10)
    assert audit.status()["last_shipped_sequence"] >= 3
    await audit.close()
    report = await verify(local, trusted(tmp_path))
    assert report.ok, report.render()


async def test_heartbeats_when_idle(store: Store, tmp_path: Path) -> None:
    audit = AuditLog(
        settings(tmp_path, store, heartbeat_seconds=0.05), store.upstream, "gw-0", data_dir=tmp_path
    )
    await audit.start()
    await wait_for(lambda: audit.shipper.state.sequence >= 4)
    await audit.close()
    kinds = []
    for key in await all_keys(store, "s3gate/v1/replicas/gw-0/manifests/"):
        kinds.append(canonical.decode(await get(store, key))["kind"])
    assert kinds.count("heartbeat") >= 2
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()
    assert report.replicas[0].heartbeats >= 2


async def test_restart_between_batch_and_manifest_reships_the_same_bytes(
    store: Store, tmp_path: Path
) -> None:
    faulty = Faulty(store.upstream)
    faulty.fail = lambda key: "/manifests/" in key
    audit = AuditLog(settings(tmp_path, store), faulty, "gw-0", data_dir=tmp_path)
    await audit.start()
    for n in range(20):
        await audit.record(event(n))
    await wait_for(lambda: audit.shipper.last_error is not None and batch_key(1) in faulty.puts)
    first = await get(store, batch_key(1))
    await crash(audit)  # kill -9: the manifest never made it

    again = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await again.start()
    await again.close()
    assert await get(store, batch_key(1)) == first  # the same object, the same bytes
    events = await shipped_events(store)
    counted = Counter(e["id"] for e in events)
    assert max(counted.values()) == 1  # nothing twice
    assert sorted(ids(events)) == sorted(f"req-{n}" for n in range(20))
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()


class LosesAnswer:
    """The manifest reaches the store, but the answer never comes back."""

    def __init__(self, inner: Upstream) -> None:
        self.inner = inner
        self.armed = True

    async def put_object(self, bucket: str, key: str, body: Body, metadata: Metadata) -> PutResult:
        result = await self.inner.put_object(bucket, key, body, metadata)
        if self.armed and "/manifests/" in key:
            raise errors.ServiceUnavailable("connection reset after the upload")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_restart_after_manifest_upload_before_commit(store: Store, tmp_path: Path) -> None:
    wrapper = LosesAnswer(store.upstream)
    audit = AuditLog(settings(tmp_path, store), wrapper, "gw-0", data_dir=tmp_path)
    await audit.start()
    for n in range(5):
        await audit.record(event(n))
    await wait_for(lambda: audit.shipper.last_error is not None)
    uploaded = await get(store, manifest_key(1))
    await crash(audit)

    again = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await again.start()
    await again.close()
    assert await get(store, manifest_key(1)) == uploaded
    events = await shipped_events(store)
    assert len({e["id"] for e in events}) == len(events)
    assert sorted(ids(events)) == sorted(f"req-{n}" for n in range(5))
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()


@pytest.mark.parametrize("when", ["preparing", "committing"])
async def test_a_state_write_that_fails_does_not_wedge_shipping(
    store: Store, tmp_path: Path, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local state cannot be written for a while (disk full) while a
    shipment is prepared or confirmed: shipping retries and then goes on; no
    event is lost or shipped twice, and the chain verifies."""
    audit = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    name = "save_batch" if when == "preparing" else "save"
    real = getattr(audit.store, name)
    broken, failures = True, 0

    def flaky(value: Any) -> None:
        nonlocal failures
        # Confirming saves a state without a pending shipment.
        if broken and (name == "save_batch" or value.pending is None):
            failures += 1
            raise OSError(errno.EFBIG, "File too large")
        real(value)

    monkeypatch.setattr(audit.store, name, flaky)
    for n in range(5):
        await audit.record(event(n))
    await wait_for(lambda: failures >= 3)  # failed, and tried again
    broken = False
    await wait_for(lambda: audit.spool.backlog_events == 0)
    assert audit.status()["last_error"] is None
    await audit.close()
    events = await shipped_events(store)
    assert len({e["id"] for e in events}) == len(events)
    assert sorted(ids(events)) == sorted(f"req-{n}" for n in range(5))
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()


async def test_unreachable_bucket_grows_the_backlog_then_drains(
    store: Store, tmp_path: Path
) -> None:
    faulty = Faulty(store.upstream)
    faulty.fail = lambda key: True
    audit = AuditLog(settings(tmp_path, store), faulty, "gw-0", data_dir=tmp_path)
    await audit.start()
    for n in range(10):
        await audit.record(event(n))  # still durable locally: requests go on
    await wait_for(lambda: audit.shipper.last_error is not None)
    before = audit.status()
    assert before["backlog_events"] == 11  # gateway.start + 10
    assert before["backlog_bytes"] > 0
    assert "unreachable" in str(before["last_error"])
    await asyncio.sleep(0.05)
    for n in range(10, 20):
        await audit.record(event(n))
    grown = audit.status()
    assert grown["backlog_events"] == 21
    assert grown["oldest_unshipped_age_seconds"] > 0

    faulty.fail = lambda key: False  # the bucket is back
    await wait_for(lambda: audit.spool.backlog_events == 0)
    assert audit.status()["last_error"] is None
    await audit.close()
    events = await shipped_events(store)
    assert sorted(ids(events)) == sorted(f"req-{n}" for n in range(20))
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()


async def test_close_leaves_unshipped_events_for_the_next_start(
    local: Store, tmp_path: Path
) -> None:
    faulty = Faulty(local.upstream)
    faulty.fail = lambda key: True
    audit = AuditLog(
        settings(tmp_path, local, close_timeout_seconds=0.2),
        faulty,
        "gw-0",
        data_dir=tmp_path,
    )
    await audit.start()
    await audit.record(event(1))
    await audit.close()  # gives up after the timeout
    again = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await again.start()
    await again.close()
    events = await shipped_events(local)
    assert ids(events) == ["req-1"]
    assert [e["type"] for e in events].count("gateway.stop") == 2
    report = await verify(local, trusted(tmp_path))
    assert report.ok, report.render()


async def test_many_small_batches_under_concurrent_load(store: Store, tmp_path: Path) -> None:
    audit = AuditLog(
        settings(tmp_path, store, batch_max_events=7, batch_max_seconds=0.01),
        store.upstream,
        "gw-0",
        data_dir=tmp_path,
    )
    await audit.start()

    async def client(c: int) -> None:
        for n in range(15):
            await audit.record(event(c * 100 + n))
            await asyncio.sleep(0)

    await asyncio.gather(*(client(c) for c in range(8)))
    await audit.close()
    events = await shipped_events(store)
    assert sorted(ids(events)) == sorted(f"req-{c * 100 + n}" for c in range(8) for n in range(15))
    assert len({e["id"] for e in events}) == len(events)
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()
    assert (report.replicas[0].last_sequence or 0) >= 120 // 7


async def test_lost_state_continues_the_chain_from_the_bucket(store: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    await audit.record(event(1))
    await audit.close()
    last = audit.shipper.state.sequence
    shutil.rmtree(tmp_path / "audit" / "state")  # the node lost its disk (keys kept)
    shutil.rmtree(tmp_path / "audit" / "spool")

    again = AuditLog(settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path)
    await again.start()
    await again.record(event(2))
    await again.close()
    assert again.shipper.state.sequence > last
    events = await shipped_events(store)
    assert "audit.chain_resumed" in [e["type"] for e in events]
    report = await verify(store, trusted(tmp_path))
    assert report.ok, report.render()


async def test_two_processes_on_one_replica_id_do_not_fork_the_chain(
    local: Store, tmp_path: Path
) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    key = generate(tmp_path / "keys")
    key_file = tmp_path / "keys" / f"{key.kid}.private.pem"
    a = AuditLog(
        settings(a_dir, local, signing_keys=(key_file,), generate_key=False),
        local.upstream,
        "gw-0",
        data_dir=a_dir,
    )
    await a.start()
    await wait_for(lambda: a.shipper.state.sequence >= 1)
    b = AuditLog(
        settings(b_dir, local, signing_keys=(key_file,), generate_key=False),
        local.upstream,
        "gw-0",
        data_dir=b_dir,
    )
    await b.start()  # no state: continues A's chain …
    await wait_for(lambda: b.shipper.state.sequence >= 2)
    await a.record(event(1))  # … so A must not overwrite B's manifest 2
    await wait_for(lambda: a.shipper.last_error is not None)
    assert "another process uses replica id" in str(a.status()["last_error"])
    assert a.status()["backlog_events"] >= 1  # kept, not lost
    await b.close()
    report = await verify(local, load_directory(tmp_path / "keys"))
    assert report.ok, report.render()
    await crash(a)


async def test_key_rotation_keeps_old_manifests_verifiable(store: Store, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    old = generate(keys)
    old_file = keys / f"{old.kid}.private.pem"
    first = AuditLog(
        settings(tmp_path, store, signing_keys=(old_file,), generate_key=False),
        store.upstream,
        "gw-0",
        data_dir=tmp_path,
    )
    await first.start()
    await first.record(event(1))
    await first.close()

    new = generate(tmp_path / "new")
    rotated = settings(
        tmp_path,
        store,
        signing_keys=(tmp_path / "new" / f"{new.kid}.private.pem", keys / f"{old.kid}.pem"),
        generate_key=False,
    )
    second = AuditLog(rotated, store.upstream, "gw-0", data_dir=tmp_path)
    await second.start()
    assert {k["kid"] for k in second.public_keys()["keys"]} == {old.kid, new.kid}
    assert second.public_keys()["active_kid"] == new.kid
    await second.record(event(2))
    await second.close()

    events = await shipped_events(store)
    rotation = [e for e in events if e["type"] == "audit.key_rotated"]
    assert rotation[0]["details"] == {"previous_key_id": old.kid, "key_id": new.kid}
    published = await all_keys(store, "s3gate/v1/keys/")
    assert f"s3gate/v1/keys/{old.kid}.pem" in published
    assert f"s3gate/v1/keys/{new.kid}.json" in published
    both = {old.kid: old.public, new.kid: new.public}
    report = await verify(store, both)
    assert report.ok, report.render()
    assert report.replicas[0].key_ids == {old.kid, new.kid}
    only_new = await verify(store, {new.kid: new.public})
    assert {f.kind for f in only_new.errors} == {"unknown_key"}


async def test_record_fails_closed_when_the_spool_cannot_be_written(
    local: Store, tmp_path: Path
) -> None:
    disk = FailingDisk(OSError(errno.ENOSPC, "No space left on device"))
    audit = AuditLog(
        settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path, write=disk.write
    )
    await audit.start()
    disk.broken = True
    with pytest.raises(errors.ServiceUnavailable, match="audit spool unavailable"):
        await audit.record(event(1))
    status = audit.status()
    assert status["spool_writable"] is False and "No space" in str(status["spool_error"])
    disk.broken = False
    await audit.record(event(2))
    assert audit.status()["spool_writable"] is True
    await audit.close()


async def test_a_failed_spool_is_tried_again_and_resumes(
    local: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests are refused while the spool fails, but not forever: callers
    try it again (one try shared by concurrent callers, at most one per
    RETRY_SECONDS), and the first durable event says it resumed."""
    disk = FailingDisk(OSError(errno.EFBIG, "File too large"), watch=b"audit.spool_resumed")
    audit = AuditLog(
        settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path, write=disk.write
    )
    await audit.start()
    disk.broken = True
    with pytest.raises(errors.ServiceUnavailable):
        await audit.record(event(1))
    assert not audit.accepting
    assert await asyncio.gather(*(audit.ensure_accepting() for _ in range(5))) == [False] * 5
    assert disk.watched == 1  # one try for five callers
    assert await audit.ensure_accepting() is False
    assert disk.watched == 1  # and none again within RETRY_SECONDS

    disk.broken = False
    assert await audit.ensure_accepting() is False  # the disk is fine, but too soon to tell
    monkeypatch.setattr(log_module, "RETRY_SECONDS", 0.0)
    audit._next_try = 0.0
    assert await audit.ensure_accepting() is True
    assert audit.accepting and audit.status()["spool_writable"] is True
    await audit.record(event(2))
    # Any event that is durable again ends an outage, and says so once.
    disk.broken = True
    with pytest.raises(errors.ServiceUnavailable):
        await audit.record(event(3))
    disk.broken = False
    await audit.record(event(4))
    await audit.record(event(5))
    await audit.close()
    events = await shipped_events(local)
    resumed = [e for e in events if e["type"] == "audit.spool_resumed"]
    assert len(resumed) == 2
    assert all("File too large" in str(e["details"]["error"]) for e in resumed)
    assert ids(events) == ["req-2", "req-4", "req-5"]
    assert (await verify(local, trusted(tmp_path))).ok


async def test_record_before_start_fails_closed(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    with pytest.raises(errors.ServiceUnavailable):
        await audit.record(event(1))


def test_batches_are_deterministic() -> None:
    payloads = [event(n).encode("gw-0") for n in range(50)]
    one, two = batches.encode(payloads), batches.encode(list(payloads))
    assert one.data == two.data
    assert batches.decode(one.data) == payloads
    assert one.summary.events == 50
