"""The shipping loop: decides when to ship, and keeps trying.

A shipment (`seal.BatchSealer.ship_once`) happens when `batch_max_events`
events wait, when the oldest has waited `batch_max_seconds`, or — with
nothing to ship — as a heartbeat after `heartbeat_seconds` without a manifest.
Failures (bucket unreachable, chain conflict) leave the events in the spool
and are retried with exponential backoff and jitter; the last error is kept
for `status()`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from s3gate.audit.write.seal import BatchSealer

log = logging.getLogger("s3gate.audit")


class Shipper(BatchSealer):
    """`BatchSealer` plus the background task that runs its shipments."""

    # ---- loop -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-shipper")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        delay = self.settings.retry_min_seconds
        while not self._stop.is_set():
            wait = self._due_in()
            if wait > 0:
                await self._sleep(wait, wake_on_events=True)
                continue
            try:
                await self.ship_once()
            except Exception as exc:  # keep shipping whatever went wrong
                self._failed(exc)
                jitter = random.uniform(0, delay / 2)  # noqa: S311  # not security
                await self._sleep(delay + jitter, wake_on_events=False)
                delay = min(delay * 2, self.settings.retry_max_seconds)
            else:
                delay = self.settings.retry_min_seconds

    def _due_in(self) -> float:
        """Seconds until the next shipment is due (0: now)."""
        backlog = self.spool.backlog_events
        if not self._ready or self.state.pending is not None:
            return 0.0
        if backlog >= self.settings.batch_max_events:
            return 0.0
        now = time.time()
        waits = [self.settings.heartbeat_seconds - (now - self._last_manifest)]
        age = self.spool.oldest_age(now)
        if backlog > 0 and age is not None:
            waits.append(self.settings.batch_max_seconds - age)
        # Woken early by the spool once a full batch (or a first event) waits.
        self.spool.wake_at = self.settings.batch_max_events if backlog > 0 else 1
        return max(0.0, min(waits))

    async def _sleep(self, timeout: float, *, wake_on_events: bool) -> None:
        self.spool.changed.clear()
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wake_on_events:
            waits.append(asyncio.ensure_future(self.spool.changed.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    def _failed(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_at = time.time()
        log.warning("audit shipping failed (events stay in the spool): %s", self.last_error)

    # ---- shutdown ---------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        """Ship everything spooled, ending with a `final` manifest. Stops the
        loop first. Returns False if it could not finish in time."""
        await self.stop()
        try:
            async with asyncio.timeout(timeout):
                while not (self._final_prepared and self.state.pending is None):
                    await self.ship_once(final=True)
                return True
        except Exception as exc:
            self._failed(exc)
            return False
