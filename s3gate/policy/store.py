"""The active policy bundle, swapped atomically on reload.

`current()` is one attribute read: a request takes the bundle once and makes
all its decisions with it, so it sees the old bundle or the new one, never a
mix. `reload()` builds a complete new bundle off to the side and only then
swaps the reference; a bundle that fails to load is rejected, the old one
stays, and the rejection is logged with its reason. Reloads are serialized,
so an older load can never replace a newer one.

Triggers: a watcher on the policy directory (debounced) and SIGHUP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import watchfiles

from s3gate.policy.cedar import Bundle
from s3gate.policy.loader import BundlePart, load_bundle
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError

log = logging.getLogger("s3gate.policy")

WATCH_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class ReloadOutcome:
    status: Literal["loaded", "unchanged", "rejected"]
    trigger: str  # "watch", "sighup", "manual", …
    at: datetime
    bundle_hash: str  # the active bundle after this reload
    previous_hash: str
    error: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "status": self.status,
            "trigger": self.trigger,
            "at": self.at.isoformat(),
            "bundle_hash": self.bundle_hash,
            "previous_hash": self.previous_hash,
            "error": self.error,
        }


class PolicyStore:
    """Holds the active bundle. The constructor loads the first one and
    raises BundleError if it cannot: the gateway must not start without one."""

    def __init__(
        self,
        settings: PolicySettings,
        *,
        directory: Path | None = None,
        parts: Sequence[BundlePart] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.directory = directory if directory is not None else settings.dir
        self._parts = tuple(parts)
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ReloadOutcome], None]] = []
        self._bundle = self._load()
        self._last: ReloadOutcome | None = None
        self._last_rejection: ReloadOutcome | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._remove_sighup: Callable[[], None] | None = None
        log.info(
            "policy bundle %s loaded (%d policies)", self._bundle.hash, len(self._bundle.policies)
        )

    def _load(self) -> Bundle:
        return load_bundle(self.settings, self.directory, parts=self._parts, clock=self._clock)

    def current(self) -> Bundle:
        return self._bundle

    def subscribe(self, listener: Callable[[ReloadOutcome], None]) -> None:
        """Call `listener` after every reload attempt (e.g. to audit it), in
        the thread that ran the reload."""
        self._listeners.append(listener)

    def reload(self, trigger: str = "manual") -> ReloadOutcome:
        """Load the directory again; swap if it is valid and different."""
        with self._lock:
            old = self._bundle
            try:
                new = self._load()
            except BundleError as exc:
                outcome = ReloadOutcome(
                    "rejected", trigger, self._clock(), old.hash, old.hash, str(exc)
                )
                log.error("policy bundle rejected (%s), keeping %s:\n%s", trigger, old.hash, exc)
                self._last_rejection = outcome
            else:
                if new.hash == old.hash:
                    outcome = ReloadOutcome("unchanged", trigger, self._clock(), old.hash, old.hash)
                else:
                    self._bundle = new  # the swap: one reference assignment
                    outcome = ReloadOutcome("loaded", trigger, self._clock(), new.hash, old.hash)
                    log.info("policy bundle %s loaded (%s), was %s", new.hash, trigger, old.hash)
            self._last = outcome
        for listener in self._listeners:
            try:
                listener(outcome)
            except Exception:
                log.exception("policy reload listener failed")
        return outcome

    async def reload_async(self, trigger: str = "manual") -> ReloadOutcome:
        """`reload` in a worker thread: parsing a large bundle must not stall
        requests in flight on the event loop."""
        return await asyncio.to_thread(self.reload, trigger)

    def status(self) -> dict[str, object]:
        """For `/_s3gate/readyz`. Problems of a rejected bundle stay in the log
        and the audit trail: readiness probes are not authenticated."""
        bundle, last, rejected = self._bundle, self._last, self._last_rejection
        return {
            "bundle_hash": bundle.hash,
            "loaded_at": bundle.loaded_at.isoformat(),
            "policies": len(bundle.policies),
            "last_reload": (
                {"status": last.status, "trigger": last.trigger, "at": last.at.isoformat()}
                if last
                else None
            ),
            "last_rejection": (
                {"trigger": rejected.trigger, "at": rejected.at.isoformat()} if rejected else None
            ),
        }

    # ---- triggers ---------------------------------------------------------

    async def watch(self) -> None:
        """Reload whenever the directory changes, until `stop()`."""
        quiet_ms = max(50, int(self.settings.reload_debounce_seconds * 1000))
        while not self._stop.is_set():
            try:
                async for _changes in watchfiles.awatch(
                    self.directory,
                    stop_event=self._stop,
                    step=quiet_ms,  # yield once nothing changed for this long
                    debounce=max(1600, quiet_ms * 10),  # … or after this long at most
                ):
                    await self.reload_async("watch")
            except Exception as exc:  # a vanished directory must not end the watch
                log.warning("policy watcher stopped (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), WATCH_RETRY_SECONDS)

    def install_sighup(self, loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
        """Reload on SIGHUP. Returns a function that removes the handler."""
        loop = loop or asyncio.get_running_loop()

        def on_signal() -> None:
            self._spawn(self.reload_async("sighup"))

        try:
            loop.add_signal_handler(signal.SIGHUP, on_signal)
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            # Not the main thread (an in-process test client) or no signals on
            # this platform: the watcher and explicit reloads still work.
            log.warning("policy reload on SIGHUP unavailable: %s", exc)
            return lambda: None

        def remove() -> None:
            loop.remove_signal_handler(signal.SIGHUP)

        return remove

    async def start(self) -> None:
        """Start the triggers (call from the app's lifespan)."""
        self._stop = asyncio.Event()
        self._remove_sighup = self.install_sighup()
        if self.settings.watch:
            self._spawn(self.watch())

    async def stop(self) -> None:
        self._stop.set()
        if self._remove_sighup is not None:
            self._remove_sighup()
            self._remove_sighup = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
