"""AuditLog as the gateway sees it: start and stop events, status for
readyz, the public keys and their endpoint, recovery events, settings."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from starlette.requests import Request

from s3gate.audit.keys import KeyFileError
from s3gate.audit.routes import keys_endpoint
from s3gate.audit.settings import AuditSettings
from s3gate.audit.write.log import AuditLog, replica_id
from s3gate.audit.write.segments import frame, list_segments, segment_path
from tests.unit.audit.helpers import (
    FailingDisk,
    Store,
    crash,
    event,
    settings,
    shipped_events,
    wait_for,
)


async def test_start_and_stop_events(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    await audit.close()
    events = await shipped_events(local)
    start, stop = events[0], events[-1]
    assert start["type"] == "gateway.start" and stop["type"] == "gateway.stop"
    assert start["details"]["key_id"] == audit.public_keys()["active_kid"]
    assert start["replica_id"] == "gw-0"


async def test_status_for_readyz(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    before = audit.status()
    assert before["started"] is False and before["last_shipped_sequence"] is None
    await audit.start()
    status = audit.status()
    assert {
        "replica_id",
        "started",
        "spool_writable",
        "spool_error",
        "backlog_events",
        "backlog_bytes",
        "oldest_unshipped_age_seconds",
        "last_shipped_sequence",
        "last_shipped_at",
        "last_error",
        "last_error_at",
        "active_key_id",
    } <= set(status)
    json.dumps(status)  # JSON-safe for the readyz body
    await audit.close()


async def test_keys_endpoint_serves_the_jwks(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    route = keys_endpoint(audit)
    response = await route(Request({"type": "http", "method": "GET", "path": "/", "headers": []}))
    body = json.loads(bytes(response.body))
    assert response.status_code == 200
    assert body["active_kid"] == body["keys"][0]["kid"]
    assert body["keys"][0]["kty"] == "OKP" and body["keys"][0]["crv"] == "Ed25519"
    assert "d" not in body["keys"][0]  # never the private part
    await audit.close()


async def test_torn_spool_after_a_crash_is_recorded(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(
        settings(tmp_path, local, batch_max_seconds=3600), local.upstream, "gw-0", data_dir=tmp_path
    )
    await audit.start()
    await audit.record(event(1))
    await crash(audit)
    spool = tmp_path / "audit" / "spool"
    with open(segment_path(spool, list_segments(spool)[-1]), "ab") as f:
        f.write(frame(b'{"half":')[:6])
    again = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await again.start()
    await again.close()
    types = [e["type"] for e in await shipped_events(local)]
    assert "audit.spool_recovered" in types
    assert [e["request_id"] for e in await shipped_events(local) if e["type"] == "request"] == [
        "req-1"
    ]


async def test_missing_signing_key_fails_at_start(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(
        settings(tmp_path, local, generate_key=False), local.upstream, "gw-0", data_dir=tmp_path
    )
    with pytest.raises(KeyFileError, match="no audit signing key"):
        await audit.start()


async def test_state_of_another_replica_is_refused(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    await audit.close()
    renamed = AuditLog(settings(tmp_path, local), local.upstream, "gw-1", data_dir=tmp_path)
    with pytest.raises(ValueError, match="belongs to replica 'gw-0'"):
        await renamed.start()


def test_settings_and_replica_id(tmp_path: Path) -> None:
    defaults = AuditSettings()
    assert defaults.bucket == "audit" and defaults.batch_max_seconds <= 10
    assert defaults.directory(tmp_path) == tmp_path / "audit"
    assert replica_id(AuditSettings(replica_id="gw-7")) == "gw-7"
    assert replica_id(defaults)  # the host name, made safe
    with pytest.raises(ValueError):
        AuditSettings(replica_id="bad/replica")


async def test_record_nowait_is_shipped(local: Store, tmp_path: Path) -> None:
    audit = AuditLog(settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path)
    await audit.start()
    audit.record_nowait(event(1))  # e.g. a streamed GET's completion
    await audit.close()  # the stop event is queued after it: both durable and shipped
    assert [e["request_id"] for e in await shipped_events(local) if e["type"] == "request"] == [
        "req-1"
    ]
    assert audit.status()["lost_events"] == 0


async def test_record_nowait_failures_are_counted_not_raised(local: Store, tmp_path: Path) -> None:
    disk = FailingDisk(OSError(errno.EIO, "Input/output error"))
    audit = AuditLog(
        settings(tmp_path, local), local.upstream, "gw-0", data_dir=tmp_path, write=disk.write
    )
    await audit.start()
    disk.broken = True
    audit.record_nowait(event(1))
    await wait_for(lambda: audit.status()["lost_events"] == 1)
    disk.broken = False
    await audit.close()
    audit.record_nowait(event(2))  # after close: dropped, counted
    assert audit.status()["lost_events"] == 2


def test_settings_problems(tmp_path: Path) -> None:
    assert AuditSettings(enabled=False).problems() == []
    assert "audit.signing_keys" in AuditSettings().problems()[0]
    assert AuditSettings(generate_key=True).problems() == []
    missing = AuditSettings(signing_keys=(tmp_path / "nope.pem",)).problems()
    assert missing == [f"audit.signing_keys.0: {tmp_path / 'nope.pem'} is not a readable file"]
