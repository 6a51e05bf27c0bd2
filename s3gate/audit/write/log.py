"""`AuditLog`: what the gateway holds. Records events durably, ships them.

    audit = AuditLog(settings.audit, upstream, replica_id(settings.audit),
                     data_dir=settings.data_dir)
    await audit.start()              # recover the spool, start shipping, record gateway.start
    await audit.record(event)        # durable on local disk when this returns
    done = audit.submit(event)       # the same, awaited later (overlap the fsync)
    audit.record_nowait(event)       # queued; for events no answer waits on
    await audit.ensure_accepting()   # after a spool failure: try again (shared, rate-limited)
    audit.status()                   # for /_s3gate/readyz
    await audit.close()              # record gateway.stop, ship what it can

`record()` (and the future of `submit()`) raise
`errors.ServiceUnavailable("audit spool unavailable")` when the event cannot
be made durable; the gateway then fails the request closed. The shipper works
in the background; a bucket outage only grows the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from s3gate import errors
from s3gate.audit.events import AuditEvent, utc_now
from s3gate.audit.keys import KeyRing, dev_key
from s3gate.audit.settings import AuditSettings
from s3gate.audit.write.builders import system
from s3gate.audit.write.shipper import Shipper
from s3gate.audit.write.spool import AuditSpool
from s3gate.audit.write.state import StateStore
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate.audit")

# After the spool failed, how often a request or readiness check may try it
# again (each try is a write and a sync on a disk that may be struggling).
RETRY_SECONDS = 1.0


def replica_id(settings: AuditSettings) -> str:
    """The configured replica id, else the host name made safe for a key."""
    if settings.replica_id:
        return settings.replica_id
    return re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:128] or "replica"


class AuditLog:
    def __init__(
        self,
        settings: AuditSettings,
        upstream: Upstream,
        replica_id: str,
        *,
        data_dir: Path,
        clock: Callable[[], datetime] = utc_now,
        fsync: Callable[[int], None] | None = None,
        write: Callable[[int, memoryview], int] | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.replica_id = replica_id
        self.clock = clock
        self.directory = settings.directory(data_dir)
        self.spool = AuditSpool(
            self.directory / "spool",
            segment_max_bytes=settings.segment_max_bytes,
            fsync=fsync,
            write=write,
        )
        self.store = StateStore(self.directory / "state")
        self._keys: KeyRing | None = None
        self._shipper: Shipper | None = None
        self._started = False
        self._lost = 0  # record_nowait events that never became durable
        self._resuming: asyncio.Future[bool] | None = None
        self._next_try = 0.0
        self.spool.on_resumed = self._resumed

    async def start(self) -> None:
        keys = await asyncio.to_thread(self._load_keys)
        state = await asyncio.to_thread(self.store.load, self.replica_id)
        recovery = await self.spool.open(state.position)
        self._keys = keys
        self._started = True
        self._shipper = Shipper(
            self.settings,
            self.upstream,
            self.spool,
            self.store,
            state,
            keys,
            self.clock,
            self.record,
        )
        if recovery.torn_bytes or recovery.corrupt_frames:
            await self.record(
                system(
                    "audit.spool_recovered",
                    clock=self.clock,
                    torn_bytes=recovery.torn_bytes,
                    corrupt_frames=recovery.corrupt_frames,
                )
            )
        if state.key_id is not None and state.key_id != keys.active.kid:
            await self.record(
                system(
                    "audit.key_rotated",
                    clock=self.clock,
                    previous_key_id=state.key_id,
                    key_id=keys.active.kid,
                )
            )
        await self.record(
            system(
                "gateway.start",
                clock=self.clock,
                key_id=keys.active.kid,
                recovered_events=recovery.events,
                last_sequence=state.sequence,
            )
        )
        self._shipper.start()
        log.info(
            "audit: replica %s, key %s, %d spooled events recovered",
            self.replica_id,
            keys.active.kid,
            recovery.events,
        )

    def _load_keys(self) -> KeyRing:
        paths = self.settings.signing_keys
        if not paths and self.settings.generate_key:
            paths = (dev_key(self.directory / "keys"),)
        return KeyRing.load(paths)

    async def record(self, event: AuditEvent) -> None:
        """Return once `event` is durable on local disk (group commit).
        Raises ServiceUnavailable if it cannot be made durable."""
        await self.submit(event)

    def submit(self, event: AuditEvent) -> asyncio.Future[None]:
        """Queue `event` now and wait for it later: the future resolves when
        it is durable (ServiceUnavailable if it cannot be). Lets the fsync
        overlap other work that does not depend on it. Raises
        ServiceUnavailable at once when the audit log is not running."""
        if not self._started:
            raise errors.ServiceUnavailable("audit spool unavailable")
        return self.spool.submit(event.encode(self.replica_id))

    def record_nowait(self, event: AuditEvent) -> None:
        """Queue `event` without waiting for the disk: for an event no answer
        depends on, such as the completion of a streamed GET whose decision
        event was already durable before the first byte (the body is sent by
        then). It is durable within one group commit; a failure is logged and
        counted in status() (`lost_events`), never raised."""
        if not self._started:
            self._lost += 1
            log.error("audit: event %s dropped: the audit log is not running", event.type)
            return
        try:
            future = self.spool.submit(event.encode(self.replica_id))
        except errors.S3Error:
            self._lost += 1
            log.error("audit: event %s dropped: audit spool unavailable", event.type)
            return
        future.add_done_callback(self._check_nowait)

    def _check_nowait(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._lost += 1
            log.error("audit: a record_nowait event could not be made durable")

    async def close(self) -> None:
        """Record `gateway.stop`, ship what can be shipped within
        `close_timeout_seconds` (ending with a final manifest), close the spool.
        Whatever is not shipped stays spooled for the next start."""
        if not self._started:
            return
        try:
            await self.record(system("gateway.stop", clock=self.clock))
        except errors.S3Error:
            log.error("audit: could not record gateway.stop")
        assert self._shipper is not None
        if not await self._shipper.drain(self.settings.close_timeout_seconds):
            log.warning(
                "audit: %d events not shipped at shutdown; they ship at the next start",
                self.spool.backlog_events,
            )
        self._started = False
        await self.spool.close()

    async def ensure_accepting(self) -> bool:
        """Whether events can be kept, trying the spool again if it failed.

        A failed spool is only known to work again once a write succeeds, and
        writes are refused while it is failing: without a retry, a disk that
        was full for a minute would refuse every upload (and fail readiness)
        until a restart. So a caller that finds it failing records an
        `audit.spool_resumed` event — at most one try in flight, shared by
        concurrent callers, and one per RETRY_SECONDS — and the spool accepts
        events again if that event is durable."""
        if self.accepting:
            return True
        if not self._started:
            return False
        if self._resuming is None:
            now = time.monotonic()
            if now < self._next_try:
                return False
            self._next_try = now + RETRY_SECONDS
            self._resuming = asyncio.ensure_future(self._resume(self.spool.last_error))
        return await asyncio.shield(self._resuming)

    async def _resume(self, error: str | None) -> bool:
        try:
            await self.record(system("audit.spool_resumed", clock=self.clock, error=error))
        except errors.S3Error:
            return False
        finally:
            self._resuming = None
        return True

    def _resumed(self, error: str) -> None:
        """The spool wrote again after failing: say so in the trail, once
        (unless the write that succeeded is ensure_accepting's own try)."""
        log.warning("audit: the spool accepts events again (it failed with: %s)", error)
        if self._resuming is None:
            self.record_nowait(system("audit.spool_resumed", clock=self.clock, error=error))

    @property
    def accepting(self) -> bool:
        """Whether events can be kept right now (checked on every request)."""
        return self._started and self.spool.last_error is None

    def status(self) -> dict[str, Any]:
        """Backlog and shipping health, for /_s3gate/readyz."""
        shipper = self._shipper
        age = self.spool.oldest_age()
        return {
            "replica_id": self.replica_id,
            "started": self._started,
            "spool_writable": self.spool.last_error is None,
            "spool_error": self.spool.last_error,
            "lost_events": self._lost,
            "backlog_events": self.spool.backlog_events,
            "backlog_bytes": max(0, self.spool.backlog_bytes),
            "oldest_unshipped_age_seconds": None if age is None else round(age, 3),
            "last_shipped_sequence": None if shipper is None else shipper.state.sequence,
            "last_shipped_at": None if shipper is None else _iso(shipper.last_shipped_at),
            "last_error": None if shipper is None else shipper.last_error,
            "last_error_at": None if shipper is None else _iso(shipper.last_error_at),
            "active_key_id": None if self._keys is None else self._keys.active.kid,
        }

    def public_keys(self) -> dict[str, Any]:
        """JWKS of every published key, plus the active kid."""
        if self._keys is None:
            return {"active_kid": None, "keys": []}
        return self._keys.jwks()

    @property
    def shipper(self) -> Shipper:
        assert self._shipper is not None
        return self._shipper


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
