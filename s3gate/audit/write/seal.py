"""One shipment to the audit bucket: a batch object, then its manifest.

Read the next events from the spool, compress them into a batch (`batch`),
seal it with the next manifest in the chain (`manifest`), record both as
*pending* in the local state (exact bytes), upload the batch, upload the
manifest, then commit the state and let the spool drop what is shipped. A
crash anywhere in between re-uploads the same pending bytes on restart, so
every acknowledged event ends in exactly one shipped batch, and the chain
never holds two different manifests under one sequence number.

When to ship, and retrying, is the loop's business (`shipper.Shipper`, a
`BatchSealer` with a background task); this module only seals and uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from s3gate.audit import batch as batches
from s3gate.audit import canonical, manifest
from s3gate.audit.bucket import put_bytes
from s3gate.audit.events import AuditEvent
from s3gate.audit.keys import KeyRing
from s3gate.audit.layout import Layout
from s3gate.audit.settings import AuditSettings
from s3gate.audit.write.chaintail import BucketChain
from s3gate.audit.write.segments import Position
from s3gate.audit.write.spool import AuditSpool
from s3gate.audit.write.state import Pending, ShipState, StateStore
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate.audit")

Note = Callable[[AuditEvent], Awaitable[None]]


class BatchSealer:
    """Seals the spool's next events into the chain and uploads them: one
    shipment per `ship_once`."""

    def __init__(
        self,
        settings: AuditSettings,
        upstream: Upstream,
        spool: AuditSpool,
        store: StateStore,
        state: ShipState,
        keys: KeyRing,
        clock: Callable[[], datetime],
        note: Note,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.spool = spool
        self.store = store
        self.state = state
        self.keys = keys
        self.clock = clock
        self.layout = Layout(settings.prefix)
        self.replica = state.replica_id
        self.bucket = BucketChain(upstream, settings.bucket, self.layout, self.replica)
        self._note = note
        self._ready = False
        self._final_prepared = False
        self._lock = asyncio.Lock()  # one shipment at a time (loop, drain, tests)
        self._last_manifest = _timestamp(state.signed_at)
        self.last_shipped_at: float | None = None
        # The loop's (`shipper.Shipper`): its task, its stop signal, its last error
        # (cleared by a successful shipment).
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    # ---- one shipment -----------------------------------------------------------

    async def ship_once(self, *, final: bool = False, heartbeat: bool = False) -> bool:
        """Ship the next batch, or a heartbeat if one is due (or `final`, or
        `heartbeat` forces one). Returns True if a manifest was written."""
        async with self._lock:
            return await self._ship_once(final, heartbeat)

    async def _ship_once(self, final: bool, heartbeat: bool) -> bool:
        await self._ensure_ready()
        if self.state.pending is not None:
            await self._upload_pending(None)
            return True
        payloads, end, size = await self.spool.read(
            self.state.position, self.settings.batch_max_events
        )
        heartbeat_due = heartbeat or (
            time.time() - self._last_manifest >= self.settings.heartbeat_seconds
        )
        if not payloads and not heartbeat_due and not final:
            if end != self.state.position:  # skipped damaged frames only
                self.state = replace(self.state, position=end)
                await asyncio.to_thread(self.store.save, self.state)
            return False
        last = final and end >= self.spool.durable_position
        built = await asyncio.to_thread(batches.encode, payloads) if payloads else None
        await self._prepare(built, end, len(payloads), size, final=last)
        await self._upload_pending(None if built is None else built.data)
        return True

    async def _prepare(
        self, built: batches.Batch | None, end: Position, events: int, size: int, *, final: bool
    ) -> None:
        state = self.state
        sequence = state.sequence + 1
        ref = None
        if built is not None:
            ref = manifest.ObjectRef(
                key=self.layout.batch_key(self.replica, sequence),
                sha256=manifest.digest(built.data),
                size=len(built.data),
                events=events,
            )
        previous = None
        if state.sequence > 0:
            assert state.manifest_sha256 is not None and state.signature is not None
            previous = manifest.Link(
                state.sequence,
                self.layout.manifest_key(self.replica, state.sequence),
                state.manifest_sha256,
                state.signature,
            )
        summary = built.summary if built is not None else manifest.BatchSummary(0, *[None] * 4)
        data = manifest.build(
            replica_id=self.replica,
            sequence=sequence,
            batch=ref,
            summary=summary,
            previous=previous,
            key=self.keys.active,
            signed_at=self.clock(),
            final=final,
        )
        pending = Pending(
            sequence=sequence,
            manifest_key=self.layout.manifest_key(self.replica, sequence),
            manifest=data.decode(),
            batch_key=None if ref is None else ref.key,
            batch_sha256=None if ref is None else ref.sha256,
            end=end,
            events=events,
            frame_bytes=size,
        )
        prepared = replace(state, pending=pending)

        def persist() -> None:
            if built is not None:
                self.store.save_batch(built.data)  # before the state that names it
            self.store.save(prepared)

        # Pending only once it is on disk: a shipment that could not be saved
        # (disk full) is prepared afresh next time, not looked for in a file
        # that was never written.
        await asyncio.to_thread(persist)
        self.state = prepared
        self._final_prepared = self._final_prepared or final

    async def _upload_pending(self, data: bytes | None) -> None:
        pending = self.state.pending
        assert pending is not None
        if pending.batch_key is not None:
            if data is None:
                data = await asyncio.to_thread(self.store.load_batch)
            if manifest.digest(data) != pending.batch_sha256:
                raise RuntimeError("pending audit batch file does not match its manifest")
        body = pending.manifest.encode()
        await self.bucket.check_free(pending.manifest_key, body)
        if pending.batch_key is not None:
            assert data is not None
            await put_bytes(
                self.upstream, self.settings.bucket, pending.batch_key, data, batches.CONTENT_TYPE
            )
        await put_bytes(
            self.upstream, self.settings.bucket, pending.manifest_key, body, "application/json"
        )
        document = canonical.decode(body)
        shipped = ShipState(
            replica_id=self.replica,
            sequence=pending.sequence,
            manifest_sha256=manifest.digest(body),
            signature=document["signature"],
            signed_at=document["signed_at"],
            key_id=document["key_id"],
            position=pending.end,
        )

        def commit() -> None:
            self.store.save(shipped)
            self.store.drop_batch()

        # Shipped only once that is on disk: if it cannot be saved, the
        # shipment stays pending and is uploaded again (same keys, same bytes).
        await asyncio.to_thread(commit)
        self.state = shipped
        await self.spool.acknowledge(pending.end, pending.events, pending.frame_bytes)
        self._last_manifest = self.last_shipped_at = time.time()
        self.last_error = None

    # ---- before the first shipment ---------------------------------------------

    async def _ensure_ready(self) -> None:
        """Publish the public keys and make sure the bucket's chain for this
        replica ends where the local state says it does."""
        if self._ready:
            return
        await self.bucket.publish_keys(self.keys)
        if self.state.sequence > 0 or self.state.pending is not None:
            await self.bucket.check_no_fork(self.state)
        else:
            await self._resume_from_bucket()
        self._ready = True

    async def _resume_from_bucket(self) -> None:
        """No local state, yet the bucket may hold this replica's chain (the
        state directory was lost): continue it after checking its tail is ours."""
        tail = await self.bucket.tail(self.keys)
        if tail is None:
            return
        document = tail.document
        self.state = replace(
            self.state,
            sequence=document["sequence"],
            manifest_sha256=manifest.digest(tail.data),
            signature=document["signature"],
            signed_at=document["signed_at"],
            key_id=document["key_id"],
        )
        await asyncio.to_thread(self.store.save, self.state)
        log.warning("audit: no local state; continuing the chain at %s", tail.key)
        await self._note(
            AuditEvent(
                type="audit.chain_resumed",
                time=self.clock(),
                details={"manifest_key": tail.key, "sequence": document["sequence"]},
            )
        )

    @property
    def ready(self) -> bool:
        return self._ready


def _timestamp(text: str | None) -> float:
    if text is None:
        return 0.0
    with contextlib.suppress(ValueError):
        return canonical.parse_time(text).timestamp()
    return 0.0
