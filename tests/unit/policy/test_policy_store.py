"""Hot reload: atomic swaps, rejected bundles, the watcher and SIGHUP."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from pathlib import Path

import pytest

from s3gate.policy.model import AccessRequest, Resource
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError
from s3gate.policy.store import PolicyStore, ReloadOutcome
from tests.unit.policy.helpers import ctx, session, write_bundle

ALLOW = '@id("allow-reads") permit (principal, action in Action::"read", resource);\n'
DENY = '@id("deny-reads") forbid (principal, action in Action::"read", resource);\n' + ALLOW
BROKEN = '@id("broken") permit (principal, action, resource) when { resource.nope };\n'
READ = AccessRequest(session("u"), "GetObject", Resource.object("traces", "a/b"), ctx())


def _store(tmp_path: Path, text: str = ALLOW, **settings: object) -> tuple[Path, PolicyStore]:
    directory = write_bundle(tmp_path / "policies", text)
    policy = PolicySettings(dir=directory, reload_debounce_seconds=0.05, **settings)
    return directory, PolicyStore(policy)


def _write(directory: Path, text: str) -> None:
    # Write beside and rename, as editors and ConfigMap updates do.
    tmp = directory / "access" / ".main.cedar.tmp"
    tmp.write_text(text)
    tmp.replace(directory / "access" / "main.cedar")


def test_reload_swaps_to_a_valid_new_bundle(tmp_path: Path) -> None:
    directory, store = _store(tmp_path)
    old = store.current()
    assert old.decide(READ).allowed
    seen: list[ReloadOutcome] = []
    store.subscribe(seen.append)
    assert store.reload("manual").status == "unchanged"
    _write(directory, DENY)
    outcome = store.reload("manual")
    assert (outcome.status, outcome.previous_hash) == ("loaded", old.hash)
    assert store.current().hash == outcome.bundle_hash != old.hash
    assert not store.current().decide(READ).allowed
    assert old.decide(READ).allowed  # a request holding the old bundle is unaffected
    assert [o.status for o in seen] == ["unchanged", "loaded"]
    status = store.status()
    assert status["bundle_hash"] == outcome.bundle_hash
    assert status["last_rejection"] is None


def test_a_broken_bundle_is_rejected_and_the_old_one_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory, store = _store(tmp_path)
    good = store.current()
    _write(directory, BROKEN)
    with caplog.at_level(logging.ERROR, logger="s3gate.policy"):
        outcome = store.reload("watch")
    assert outcome.status == "rejected"
    assert outcome.error is not None and "access/main.cedar:1" in outcome.error
    assert store.current() is good
    assert "rejected" in caplog.text and "access/main.cedar:1" in caplog.text
    status = store.status()
    assert status["bundle_hash"] == good.hash
    rejection = status["last_rejection"]
    assert isinstance(rejection, dict) and rejection["trigger"] == "watch"
    assert "main.cedar" not in str(status)  # details go to the log, not to probes
    # Fixing the file brings reloads back.
    _write(directory, DENY)
    assert store.reload().status == "loaded"


def test_the_first_bundle_must_load(tmp_path: Path) -> None:
    directory = write_bundle(tmp_path / "p", BROKEN)
    with pytest.raises(BundleError, match=r"access/main\.cedar:1"):
        PolicyStore(PolicySettings(dir=directory))


def test_concurrent_decisions_each_see_exactly_one_bundle(tmp_path: Path) -> None:
    directory, store = _store(tmp_path)
    allow_hash = store.current().hash
    _write(directory, DENY)
    store.reload()
    deny_hash = store.current().hash
    expected = {allow_hash: True, deny_hash: False}
    stop = threading.Event()
    errors: list[str] = []
    counts = {allow_hash: 0, deny_hash: 0}

    def hammer() -> None:
        requests = [READ] * 5
        while not stop.is_set():
            bundle = store.current()  # one reference per request
            decisions = bundle.decide_many(requests)
            hashes = {d.bundle_hash for d in decisions}
            if hashes != {bundle.hash} or any(
                d.allowed is not expected[bundle.hash] for d in decisions
            ):
                errors.append(f"mixed: {hashes} {[d.allowed for d in decisions]}")
            counts[bundle.hash] += 1

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for i in range(12):
            _write(directory, ALLOW if i % 3 else BROKEN if i % 2 else DENY)
            store.reload()
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert errors == []
    assert counts[allow_hash] and counts[deny_hash]


async def _next_outcome(store: PolicyStore) -> asyncio.Future[ReloadOutcome]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[ReloadOutcome] = loop.create_future()

    def settle(outcome: ReloadOutcome) -> None:
        if not future.done():
            future.set_result(outcome)

    def listener(outcome: ReloadOutcome) -> None:
        if outcome.status != "unchanged":
            loop.call_soon_threadsafe(settle, outcome)

    store.subscribe(listener)
    return future


async def test_the_watcher_picks_up_a_change(tmp_path: Path) -> None:
    directory, store = _store(tmp_path)
    old = store.current().hash
    watcher = asyncio.create_task(store.watch())
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        outcome = await _next_outcome(store)
        _write(directory, DENY)
        result = await asyncio.wait_for(outcome, 15)
        assert (result.status, result.trigger) == ("loaded", "watch")
        assert store.current().hash != old
        assert not store.current().decide(READ).allowed
    finally:
        await store.stop()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def test_sighup_triggers_a_reload(tmp_path: Path) -> None:
    directory, store = _store(tmp_path, watch=False)
    await store.start()
    try:
        outcome = await _next_outcome(store)
        _write(directory, DENY)
        os.kill(os.getpid(), signal.SIGHUP)
        result = await asyncio.wait_for(outcome, 10)
        assert (result.status, result.trigger) == ("loaded", "sighup")
    finally:
        await store.stop()


def test_sighup_outside_the_main_thread_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Off the main thread, signals cannot be handled: the store says so in
    the log, installs nothing, and hands back a harmless remover, instead of
    raising (which would stop an in-process test client's start)."""
    _, store = _store(tmp_path, watch=False)
    before = signal.getsignal(signal.SIGHUP)
    seen: list[object] = []

    def in_thread() -> None:
        loop = asyncio.new_event_loop()
        try:
            remove = store.install_sighup(loop)
            remove()
            seen.append("returned")
        except BaseException as exc:  # recorded, asserted below
            seen.append(exc)
        finally:
            loop.close()

    with caplog.at_level(logging.WARNING, logger="s3gate"):
        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
    assert seen == ["returned"]
    assert signal.getsignal(signal.SIGHUP) == before
    assert any("SIGHUP unavailable" in r.getMessage() for r in caplog.records)


async def test_start_and_stop_with_the_watcher(tmp_path: Path) -> None:
    directory, store = _store(tmp_path)
    await store.start()
    outcome = await _next_outcome(store)
    await asyncio.sleep(0.3)
    _write(directory, BROKEN)
    result = await asyncio.wait_for(outcome, 15)
    assert result.status == "rejected"
    await store.stop()
