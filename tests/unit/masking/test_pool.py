"""The masking worker pool with real worker processes: output identical to
inline, errors crossing intact, a killed worker failing its run closed and
being replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from s3gate.masking import pool as pool_module
from s3gate.masking.pool import MaskingPool, NoWorker, PoolStatus, WorkerGone
from s3gate.masking.pooled import PooledMasker
from s3gate.masking.worker import WORKER_NICE
from s3gate.transform.engine import Masker
from s3gate.transform.errors import MaskingBlocked, MaskingHeld, UnsupportedCoding
from s3gate.transform.profile import load_profiles
from s3gate.transform.settings import Limits
from s3gate.transform.tokenkeys import TokenKeys

POLICIES = Path(__file__).resolve().parents[3] / "policies" / "masking"
KEYS = TokenKeys({"k1": b"k" * 32}, "k1")
PROFILES = load_profiles(POLICIES, KEYS)
RECORD = b'{"msg": "mail alice@example.com, card 4111 1111 1111 1111", "n": %d}\n'


async def _chunks(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _run(masker: Masker | PooledMasker, data: bytes) -> bytes:
    return b"".join([piece async for piece in masker.transform(_chunks(data))])


@pytest.fixture
async def pool() -> AsyncIterator[MaskingPool]:
    p = MaskingPool(2)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def _pair(
    pool: MaskingPool, ctype: str, encoding: str | None = None
) -> tuple[Masker, PooledMasker]:
    profiles = [PROFILES.get("write-default")]
    kw = {"content_type": ctype, "content_encoding": encoding, "key": "t.jsonl", "limits": Limits()}
    return Masker(profiles, **kw), PooledMasker(pool, profiles, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ctype", "data"),
    [
        ("application/x-ndjson", b"".join(RECORD % i for i in range(3000))),
        ("text/plain", b"key AKIAIOSFODNN7EXAMPLE and bob@example.org\n" * 500),
        ("application/json", b'{"a": ["x@example.com", 1, {"b": "4111111111111111"}]}'),
        ("application/x-ndjson", b""),
    ],
)
async def test_pool_output_and_summary_equal_inline(
    pool: MaskingPool, ctype: str, data: bytes
) -> None:
    inline, pooled = _pair(pool, ctype)
    assert await _run(pooled, data) == await _run(inline, data)
    assert pooled.summary == inline.summary
    assert pooled.summary.complete


async def test_counts_made_before_the_run_are_kept(pool: MaskingPool) -> None:
    # The metadata is inspected in the caller's process into the same summary
    # before the body runs (masked_writes); the worker's counts add to them,
    # as the inline engine's do.
    inline, pooled = _pair(pool, "application/x-ndjson")
    for masker in (inline, pooled):
        masker.summary.detectors["email"] += 2
        masker.summary.rules["write-default:meta"] += 1
        masker.summary.operators["redact"] += 2
    data = b"".join(RECORD % i for i in range(50))
    assert await _run(pooled, data) == await _run(inline, data)
    assert pooled.summary == inline.summary
    assert pooled.summary.rules["write-default:meta"] == 1
    assert pooled.summary.detectors["email"] == 52


async def test_concurrent_runs_keep_their_own_order(pool: MaskingPool) -> None:
    bodies = [b"".join(RECORD % (i * 1000 + j) for j in range(400)) for i in range(6)]
    expected = [await _run(_pair(pool, "application/x-ndjson")[0], b) for b in bodies]
    got = await asyncio.gather(*(_run(_pair(pool, "application/x-ndjson")[1], b) for b in bodies))
    assert list(got) == expected


@pytest.mark.parametrize(
    ("ctype", "encoding", "data", "error"),
    [
        ("application/octet-stream", None, bytes(range(256)) * 10, MaskingBlocked),
        ("text/plain", "x-unknown", b"hello", UnsupportedCoding),
    ],
)
async def test_errors_cross_the_process_boundary_intact(
    pool: MaskingPool, ctype: str, encoding: str | None, data: bytes, error: type[Exception]
) -> None:
    inline, pooled = _pair(pool, ctype, encoding)
    with pytest.raises(error) as want:
        await _run(inline, data)
    with pytest.raises(error) as got:
        await _run(pooled, data)
    assert type(got.value) is type(want.value)
    assert got.value.error_code == want.value.error_code  # type: ignore[attr-defined]
    assert got.value.message == want.value.message  # type: ignore[attr-defined]
    assert getattr(got.value, "rule_ids", None) == getattr(want.value, "rule_ids", None)
    assert pooled.summary == inline.summary


DENSE = b"".join(
    b'{"n": %d, "m": "x%d@example.com card 4111 1111 1111 1111 pad %s"}\n' % (i, i, b"z" * (i % 97))
    for i in range(60_000)
)


@pytest.mark.parametrize(
    ("ctype", "encoding", "data"),
    [
        ("application/x-ndjson", None, DENSE),  # plain: cut into windows
        ("application/x-ndjson", None, b"\xef\xbb\xbf" + DENSE),  # a BOM: one run
        ("application/x-ndjson", None, DENSE.replace(b"\n", b"\r\n")),
        ("text/plain", None, DENSE),  # not JSONL: never cut
    ],
)
async def test_windows_of_one_object_give_the_inline_bytes_and_counts(
    pool: MaskingPool, ctype: str, encoding: str | None, data: bytes
) -> None:
    inline, pooled = _pair(pool, ctype, encoding)
    assert await _run(pooled, data) == await _run(inline, data)
    assert pooled.summary == inline.summary


async def test_a_hold_in_a_later_window_is_raised_after_all_output() -> None:
    p = MaskingPool(2)
    await p.start()
    try:
        profiles = [PROFILES.get("write-strict")]
        kw = {"content_type": "application/x-ndjson", "content_encoding": None, "key": "t.jsonl"}
        body = (
            DENSE
            + b'{"m": "status of project nightjar?"}\n'
            + DENSE[:50_000].rsplit(b"\n", 1)[0]
            + b"\n"
        )
        inline = Masker(profiles, limits=Limits(), **kw)  # type: ignore[arg-type]
        pooled = PooledMasker(p, profiles, limits=Limits(), **kw)  # type: ignore[arg-type]
        got: list[bytes] = []
        want: list[bytes] = []
        with pytest.raises(MaskingHeld) as held:
            async for piece in pooled.transform(_chunks(body, 65536)):
                got.append(piece)
        with pytest.raises(MaskingHeld) as expected:
            async for piece in inline.transform(_chunks(body, 65536)):
                want.append(piece)
        assert b"".join(got) == b"".join(want)
        assert held.value.rule_ids == expected.value.rule_ids
        assert pooled.summary == inline.summary
    finally:
        await p.stop()


async def test_stop_reaps_every_worker_process() -> None:
    p = MaskingPool(2)
    await p.start()
    pids = [w.pid for w in p.workers]
    await p.stop()
    for worker in p.workers:
        assert worker.process is not None and not worker.process.is_alive()
        assert worker.process.exitcode is not None  # joined: no zombie left
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_killed_worker_fails_its_run_closed_and_is_replaced(pool: MaskingPool) -> None:
    _, pooled = _pair(pool, "application/x-ndjson")
    sent = 0
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        nonlocal sent
        for i in range(100_000):
            if sent > 4 * 1024 * 1024:
                started.set()
            chunk = b"".join(RECORD % (i * 100 + j) for j in range(100))
            sent += len(chunk)
            yield chunk
            await asyncio.sleep(0)

    out: list[bytes] = []

    async def consume() -> None:
        async for piece in pooled.transform(slow()):
            out.append(piece)

    task = asyncio.create_task(consume())
    await started.wait()
    busy = [w for w in pool.workers if w.runs]  # windows: maybe both
    assert busy and busy[0].pid is not None
    os.kill(busy[0].pid, signal.SIGKILL)
    with pytest.raises(WorkerGone) as failed:
        await task
    assert failed.value.error_code == "InternalError"
    assert not pooled.summary.complete
    for _ in range(600):  # the replacement starts (spawn: well under a minute)
        if pool.restarted == 1 and all(w.alive for w in pool.workers):
            break
        await asyncio.sleep(0.1)
    assert pool.restarted == 1
    inline, again = _pair(pool, "application/x-ndjson")
    data = b"".join(RECORD % i for i in range(200))
    assert await _run(again, data) == await _run(inline, data)


async def test_a_run_with_no_live_worker_waits_then_is_refused_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every worker dead and no replacement coming (restart held back here):
    a new run waits `REPLACE_WAIT`, then ServiceUnavailable, nothing masked."""
    p = MaskingPool(1)
    await p.start()
    try:
        monkeypatch.setattr(p, "replace", lambda dead: None)
        monkeypatch.setattr(pool_module, "REPLACE_WAIT", 0.3)
        [worker] = p.workers
        assert worker.pid is not None and p.status().pids == (worker.pid,)
        os.kill(worker.pid, signal.SIGKILL)
        for _ in range(600):
            if not worker.alive:
                break
            await asyncio.sleep(0.05)
        assert p.status() == PoolStatus(workers=1, alive=0, pids=(), restarts=0)
        _, pooled = _pair(p, "application/x-ndjson")
        started = asyncio.get_running_loop().time()
        with pytest.raises(NoWorker) as refused:
            await _run(pooled, RECORD % 1)
        assert (refused.value.error_code, refused.value.status) == ("ServiceUnavailable", 503)
        assert asyncio.get_running_loop().time() - started >= 0.3
        assert not pooled.summary.complete
    finally:
        await p.stop()


async def test_status_counts_restarts_and_shows_the_new_pid(pool: MaskingPool) -> None:
    first = pool.status()
    assert (first.workers, first.alive, first.restarts) == (2, 2, 0)
    victim = first.pids[0]
    os.kill(victim, signal.SIGKILL)
    for _ in range(600):
        now = pool.status()
        if now.restarts == 1 and now.alive == 2:
            break
        await asyncio.sleep(0.1)
    assert now.restarts == 1 and now.alive == 2
    assert victim not in now.pids and first.pids[1] in now.pids


async def test_workers_run_nicer_than_the_gateway(pool: MaskingPool) -> None:
    """The loop gets the CPU before the workers when the cores are busy."""
    pids = pool.status().pids
    assert len(pids) == 2
    for pid in pids:
        assert psutil.Process(pid).nice() == os.nice(0) + WORKER_NICE
