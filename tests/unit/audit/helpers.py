"""Shared pieces of the audit tests: clocks, a fault-injecting upstream,
crash simulation, chain building and reading shipped events back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from s3gate import errors
from s3gate.audit import batch as batches
from s3gate.audit.bucket import get_bytes, list_keys, put_bytes
from s3gate.audit.keys import PublicKey, load_directory
from s3gate.audit.settings import AuditSettings
from s3gate.audit.verify.reader import AuditReader
from s3gate.audit.verify.report import Report
from s3gate.audit.verify.verifier import Verifier
from s3gate.audit.write.builders import RequestEvent
from s3gate.audit.write.log import AuditLog
from s3gate.s3.model import Conditions, Metadata, PutResult
from s3gate.upstream.base import Body, Upstream

NO_CONDITIONS = Conditions()

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Store:
    """An audit bucket on some upstream."""

    upstream: Upstream
    bucket: str
    kind: str


class Clock:
    """A settable clock for event and signing times."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Faulty:
    """An upstream that delegates, except that `put_object` fails while
    `fail(key)` is true (raising ServiceUnavailable, as an unreachable store)."""

    def __init__(self, inner: Upstream) -> None:
        self.inner = inner
        self.fail: Callable[[str], bool] = lambda key: False
        self.puts: list[str] = []

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        metadata: Metadata,
        *,
        conditions: Conditions = NO_CONDITIONS,
    ) -> PutResult:
        if self.fail(key):
            async for _ in body.chunks:
                pass
            raise errors.ServiceUnavailable("injected: audit bucket unreachable")
        self.puts.append(key)
        return await self.inner.put_object(bucket, key, body, metadata, conditions=conditions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FailingDisk:
    """The spool's `write`: fails with `error` while `broken`, and counts the
    writes attempted while broken whose data holds `watch`."""

    def __init__(self, error: OSError, watch: bytes = b"") -> None:
        self.error = error
        self.watch = watch
        self.broken = False
        self.watched = 0

    def write(self, fd: int, data: memoryview) -> int:
        if self.broken:
            if self.watch and self.watch in bytes(data):
                self.watched += 1
            raise self.error
        return os.write(fd, data)


def settings(tmp: Path, store: Store, **overrides: Any) -> AuditSettings:
    values: dict[str, Any] = {
        "bucket": store.bucket,
        "signing_keys": (),
        "generate_key": True,
        "batch_max_seconds": 0.05,
        "heartbeat_seconds": 3600,
        "retry_min_seconds": 0.02,
        "retry_max_seconds": 0.1,
        "close_timeout_seconds": 5,
        "dir": tmp / "audit",
    }
    values.update(overrides)
    return AuditSettings(**values)


def event(n: int, **fields: Any) -> Any:
    ev = RequestEvent(f"req-{n}", operation="PutObject", bucket="traces", key=f"k/{n}", **fields)
    return ev.completion(200, bytes_out=0)


async def crash(audit: AuditLog) -> None:
    """Stop an AuditLog the way kill -9 would: no stop event, no flush, no
    final shipment. What was written with os.write stays (page cache), as it
    would after a process crash."""
    shipper = audit._shipper
    if shipper is not None and shipper._task is not None:
        shipper._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await shipper._task
    spool = audit.spool
    spool._closing = True  # the process is gone: nothing more is appended
    await spool._idle.wait()  # (a thread cannot be killed; let its write land)
    spool._close_writer()
    spool._thread.shutdown(wait=True)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def trusted(tmp: Path) -> dict[str, PublicKey]:
    return load_directory(tmp / "audit" / "keys")


async def verify(
    store: Store,
    keys: dict[str, PublicKey],
    *,
    now: datetime | None = None,
    max_age: float = 3600,
) -> Report:
    reader = AuditReader(store.upstream, store.bucket)
    return await Verifier(
        reader, keys, now=now or datetime.now(UTC), max_heartbeat_age=max_age
    ).run()


async def shipped_events(store: Store, replica: str = "gw-0") -> list[dict[str, Any]]:
    """Every event in the replica's batches, in chain order."""
    out: list[dict[str, Any]] = []
    prefix = f"s3gate/v1/replicas/{replica}/batches/"
    async for key in list_keys(store.upstream, store.bucket, prefix):
        data = await get_bytes(store.upstream, store.bucket, key)
        assert data is not None
        out += [json.loads(line) for line in batches.decode(data)]
    return out


async def all_keys(store: Store, prefix: str = "") -> list[str]:
    return [k async for k in list_keys(store.upstream, store.bucket, prefix)]


async def get(store: Store, key: str) -> bytes:
    data = await get_bytes(store.upstream, store.bucket, key)
    assert data is not None, key
    return data


async def put(store: Store, key: str, data: bytes) -> None:
    await put_bytes(store.upstream, store.bucket, key, data, "application/octet-stream")


def manifest_key(n: int, replica: str = "gw-0") -> str:
    return f"s3gate/v1/replicas/{replica}/manifests/{n:012d}.json"


def batch_key(n: int, replica: str = "gw-0") -> str:
    return f"s3gate/v1/replicas/{replica}/batches/{n:012d}.jsonl.gz"
