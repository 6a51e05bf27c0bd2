"""Tampering with the audit bucket directly in the store (bypassing the
gateway): each change is detected and the report names the object."""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from s3gate.audit import canonical, manifest
from s3gate.audit.keys import PublicKey, SigningKey
from s3gate.audit.verify.reader import AuditReader
from s3gate.audit.verify.report import Report
from s3gate.audit.verify.verifier import Verifier
from s3gate.audit.write.log import AuditLog
from tests.unit.audit.helpers import (
    Clock,
    Store,
    batch_key,
    crash,
    event,
    get,
    manifest_key,
    put,
    settings,
    trusted,
    verify,
    wait_for,
)

MAX_AGE = 90.0  # a manifest a minute, so a 90 s heartbeat limit


@dataclass
class Chain:
    store: Store
    keys: dict[str, PublicKey]
    now: datetime  # when the chain is verified: 30 s after the newest manifest

    async def verify(self) -> Report:
        return await verify(self.store, self.keys, now=self.now, max_age=MAX_AGE)

    async def delete(self, key: str) -> None:
        await self.store.upstream.delete_object(self.store.bucket, key)


@pytest.fixture
async def chain(store: Store, tmp_path: Path) -> AsyncIterator[Chain]:
    """Manifests 1..6 a minute apart, each sealing a batch of events."""
    clock = Clock()
    audit = AuditLog(
        settings(tmp_path, store, batch_max_seconds=3600),
        store.upstream,
        "gw-0",
        data_dir=tmp_path,
        clock=clock,
    )
    await audit.start()
    await wait_for(lambda: audit.shipper.state.sequence == 1)
    for n in range(5):
        clock.advance(60)
        for i in range(3):
            await audit.record(event(n * 10 + i))
        assert await audit.shipper.ship_once()
    assert audit.shipper.state.sequence == 6
    await crash(audit)
    built = Chain(store, trusted(tmp_path), clock.now + timedelta(seconds=30))
    report = await built.verify()
    assert report.ok, report.render()
    yield built


def named(report: Report, kind: str) -> set[str | None]:
    return {f.object for f in report.errors if f.kind == kind}


async def document(chain: Chain, n: int) -> dict[str, Any]:
    doc: dict[str, Any] = canonical.decode(await get(chain.store, manifest_key(n)))
    return doc


def resign(doc: dict[str, Any], key: SigningKey, *, claim_kid: str | None = None) -> bytes:
    doc = dict(doc)
    doc["key_id"] = claim_kid or key.kid
    doc["signature"] = base64.b64encode(key.sign(manifest.signing_input(doc))).decode()
    return canonical.encode(doc)


ATTACKER = SigningKey.of(Ed25519PrivateKey.generate())


async def test_one_byte_of_a_batch_changed(chain: Chain) -> None:
    data = bytearray(await get(chain.store, batch_key(3)))
    data[len(data) // 2] ^= 0x01
    await put(chain.store, batch_key(3), bytes(data))
    report = await chain.verify()
    assert not report.ok
    assert named(report, "modified") == {batch_key(3)}
    assert "RESULT: FAILED" in report.render() and batch_key(3) in report.render()


async def test_batch_recompressed_with_the_same_events(chain: Chain) -> None:
    events = gzip.decompress(await get(chain.store, batch_key(2)))
    await put(chain.store, batch_key(2), gzip.compress(events, compresslevel=9, mtime=1))
    assert named(await chain.verify(), "modified") == {batch_key(2)}


async def test_a_manifest_deleted(chain: Chain) -> None:
    await chain.delete(manifest_key(4))
    report = await chain.verify()
    assert named(report, "deleted") >= {manifest_key(4)}
    assert all(f.object in (manifest_key(4), batch_key(4)) for f in report.errors)


async def test_a_batch_deleted(chain: Chain) -> None:
    await chain.delete(batch_key(5))
    report = await chain.verify()
    assert {(f.kind, f.object) for f in report.errors} == {("deleted", batch_key(5))}


async def test_two_manifests_swapped(chain: Chain) -> None:
    three, four = await get(chain.store, manifest_key(3)), await get(chain.store, manifest_key(4))
    await put(chain.store, manifest_key(3), four)
    await put(chain.store, manifest_key(4), three)
    report = await chain.verify()
    assert named(report, "reordered") == {manifest_key(3), manifest_key(4)}
    assert {f.kind for f in report.errors} == {"reordered"}


async def test_forged_manifest_inserted_at_the_tail(chain: Chain) -> None:
    """Properly linked to manifest 6, but signed by a key nobody trusts."""
    last = await get(chain.store, manifest_key(6))
    doc = dict(await document(chain, 6))
    doc.update(
        sequence=7,
        kind="heartbeat",
        objects=[],
        event_count=0,
        previous=manifest.link_to(last, canonical.decode(last), manifest_key(6)).as_json(),
    )
    await put(chain.store, manifest_key(7), resign(doc, ATTACKER))
    report = await chain.verify()
    assert named(report, "unknown_key") == {manifest_key(7)}


async def test_old_manifest_replayed_as_a_new_one(chain: Chain) -> None:
    await put(chain.store, manifest_key(7), await get(chain.store, manifest_key(2)))
    report = await chain.verify()
    assert named(report, "reordered") == {manifest_key(7)}


async def test_manifest_claiming_our_key_with_a_forged_signature(chain: Chain) -> None:
    doc = await document(chain, 4)
    doc["event_count"] += 1
    await put(chain.store, manifest_key(4), resign(doc, ATTACKER, claim_kid=doc["key_id"]))
    report = await chain.verify()
    assert named(report, "modified") == {manifest_key(4)}


async def test_manifest_resigned_with_a_foreign_key(chain: Chain) -> None:
    doc = await document(chain, 3)
    doc["objects"] = []  # hide batch 3 …
    doc["event_count"] = 0
    await put(chain.store, manifest_key(3), resign(doc, ATTACKER))  # … and re-sign
    report = await chain.verify()
    assert named(report, "unknown_key") == {manifest_key(3)}


async def test_manifest_edited_without_resigning(chain: Chain) -> None:
    doc = await document(chain, 5)
    doc["signed_at"] = canonical.format_time(canonical.parse_time(doc["signed_at"]) - timedelta(1))
    await put(chain.store, manifest_key(5), canonical.encode(doc))
    assert named(await chain.verify(), "modified") == {manifest_key(5)}


async def test_manifest_replaced_by_garbage(chain: Chain) -> None:
    await put(chain.store, manifest_key(2), b"{}")
    assert named(await chain.verify(), "modified") == {manifest_key(2)}


async def test_tail_truncated(chain: Chain) -> None:
    for n in (5, 6):
        await chain.delete(manifest_key(n))
        await chain.delete(batch_key(n))
    report = await chain.verify()
    assert named(report, "stale_tail") == {manifest_key(4)}
    assert "truncated" in report.render()


async def test_head_deleted(chain: Chain) -> None:
    await chain.delete(manifest_key(1))
    await chain.delete(batch_key(1))
    report = await chain.verify()
    assert named(report, "deleted") == {manifest_key(1)}


async def test_unlisted_batch_inserted(chain: Chain) -> None:
    await put(chain.store, batch_key(2).replace("000000000002", "000000000042"), b"x")
    report = await chain.verify()
    assert named(report, "inserted") == {batch_key(42)}


async def test_stray_object_among_manifests(chain: Chain) -> None:
    stray = "s3gate/v1/replicas/gw-0/manifests/000000000004-copy.json"
    await put(chain.store, stray, await get(chain.store, manifest_key(4)))
    assert named(await chain.verify(), "inserted") == {stray}


async def test_a_freshly_stopped_chain_is_fine_and_an_old_stop_is_a_warning(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    audit = AuditLog(
        settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path, clock=clock
    )
    await audit.start()
    await audit.close()
    keys = trusted(tmp_path)
    later = clock.now + timedelta(hours=2)
    report = await verify(store, keys, now=later, max_age=MAX_AGE)
    assert report.ok
    assert [f.kind for f in report.findings] == ["stopped"]


async def test_since_checks_the_window_and_its_first_link(chain: Chain) -> None:
    fourth = canonical.parse_time((await document(chain, 4))["signed_at"])
    reader = AuditReader(chain.store.upstream, chain.store.bucket)

    async def window() -> Report:
        verifier = Verifier(
            reader, chain.keys, now=chain.now, max_heartbeat_age=MAX_AGE, since=fourth
        )
        return await verifier.run()

    report = await window()
    assert report.ok, report.render()
    assert report.replicas[0].first_sequence == 4
    # Manifest 3 is outside the window but 4 links to it: replacing it shows.
    await put(chain.store, manifest_key(3), await get(chain.store, manifest_key(2)))
    assert named(await window(), "reordered") == {manifest_key(3)}


async def test_require_live_makes_a_stopped_chain_stale(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    audit = AuditLog(
        settings(tmp_path, store), store.upstream, "gw-0", data_dir=tmp_path, clock=clock
    )
    await audit.start()
    await audit.close()
    verifier = Verifier(
        AuditReader(store.upstream, store.bucket),
        trusted(tmp_path),
        now=clock.now + timedelta(hours=2),
        max_heartbeat_age=MAX_AGE,
        require_live=True,
    )
    report = await verifier.run()
    assert [f.kind for f in report.errors] == ["stale_tail"]


async def test_a_whole_chain_deleted_shows_when_named(chain: Chain) -> None:
    reader = AuditReader(chain.store.upstream, chain.store.bucket)
    report = await Verifier(reader, chain.keys, now=chain.now, max_heartbeat_age=MAX_AGE).run(
        ["gw-0", "gw-1"]
    )
    assert named(report, "deleted") == {"s3gate/v1/replicas/gw-1/manifests/"}
