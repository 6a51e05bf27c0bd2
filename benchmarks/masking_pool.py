"""Issue 13, item 1: the masking worker pool, end to end, in one run.

- masked PUT MiB/s of a dense trace (every record carries at least five
  labelled values, `tests/tracegen.py`) through gateways with
  `masking.workers` 2, 1 and 0 (inline), alternating rounds (medians), and
  the ratio 2 workers / 1 worker;
- CPU seconds per MiB of the gateway and its workers for those PUTs (what
  the pool adds beside the engine; on a shared box this, not MiB/s, is the
  stable figure), split into the gateway process's own (the event loop and
  its threads: the serial part, which bounds scaling with cores) and the
  workers';
- p50/p99 latency of small requests (`/_s3gate/healthz` and a signed 4 KiB
  GET) from concurrent clients, idle and while a large masked PUT runs,
  with the pool (2 workers) and inline (0): the pool's promise is that one
  masked object no longer stalls everyone else.

The gateways use the local-directory store (no moto process on the cores).
Size: `S3GATE_BENCH_POOL_MIB` (default 32) per PUT.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import psutil

from benchmarks.features_e2e import BENCH_POLICY, POLICIES
from benchmarks.load import MiB, S3Client, median, session, timed
from benchmarks.servers import Server, start_gateway
from tests.tracegen import generate

ROUNDS = 3
SAMPLERS = 4  # concurrent small-request clients
# Clean JSONL (writes are masked too: random bytes would be refused as binary).
SMALL_BODY = b'{"step": 1, "thought": "nothing to hide here"}\n' * 85  # ~4 KiB
# The plain object the small GETs read (the bench principal's reads are not
# masked under this prefix, see PLAIN_POLICY).
PLAIN_POLICY = """
@id("bench.plain-read")
permit (principal is Service in Group::"maskers", action in Action::"read", resource)
when { resource.key like "plain/*" };
"""


def _dense_pool() -> bytes:
    data, _ = generate(3000, seed=43, min_values=5)
    return data


async def _trace(pool: bytes, total: int) -> AsyncIterator[bytes]:
    """`total` bytes of whole dense records (the last may be cut)."""
    sent = 0
    while sent < total:
        for start in range(0, len(pool), MiB):
            piece = pool[start : start + MiB][: total - sent]
            if not piece:
                return
            sent += len(piece)
            yield piece


def _gateway(workdir: Path, name: str, policies: Path, workers: int) -> Server:
    return start_gateway(
        workdir / name,  # its own data_dir: each gateway is a replica
        None,
        {
            "upstream": {
                "type": "local",
                "path": str(workdir / name),
                "create_buckets": ["bench", "audit"],
            },
            "policy": {"dir": str(policies)},
            "masking": {"workers": workers},
        },
        groups=("maskers",),
    )


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of a gateway's own process (its event loop
    and threads) and of its masking workers together."""
    gateway = psutil.Process(pid)
    own, workers = 0.0, 0.0
    for proc in (gateway, *gateway.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        if proc.pid == pid:
            own = times.user + times.system
        else:
            workers += times.user + times.system
    return own, workers


async def _put_rate(
    client: S3Client,
    pool: bytes,
    size: int,
    key: str,
    cpu: dict[str, list[float]] | None = None,
) -> float:
    pid = client.server.proc.pid
    own, workers = _cpu_seconds(pid)
    seconds = await timed(lambda: client.put("bench", key, _trace(pool, size), size))
    if cpu is not None:
        own_after, workers_after = _cpu_seconds(pid)
        cpu["loop"].append((own_after - own) / (size / MiB))
        cpu["workers"].append((workers_after - workers) / (size / MiB))
    return size / MiB / seconds


async def _sample(
    request: Callable[[], Awaitable[None]], stop: asyncio.Event, into: list[float]
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await request()
        into.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _latencies(
    gw: Server, client: S3Client, http: aiohttp.ClientSession, pool: bytes, size: int
) -> dict[str, float]:
    """Small-request latencies idle (for as long as one PUT takes) and while
    a masked PUT of `size` runs."""

    async def healthz() -> None:
        async with http.get(f"{gw.endpoint}/_s3gate/healthz") as r:
            await r.read()

    async def small_get() -> None:
        await client.get("bench", "plain/small.jsonl")

    out: dict[str, float] = {}
    for phase in ("idle", "busy"):
        stop = asyncio.Event()
        health: list[float] = []
        gets: list[float] = []
        samplers = [
            asyncio.ensure_future(
                _sample(healthz if i % 2 else small_get, stop, health if i % 2 else gets)
            )
            for i in range(SAMPLERS)
        ]
        started = time.perf_counter()
        if phase == "busy":
            await client.put("bench", "busy.jsonl", _trace(pool, size), size)
            out["busy_seconds"] = time.perf_counter() - started
        else:
            await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*samplers)
        out[f"{phase}_healthz_p50_ms"] = _p(health, 0.5)
        out[f"{phase}_healthz_p99_ms"] = _p(health, 0.99)
        out[f"{phase}_get_p50_ms"] = _p(gets, 0.5)
        out[f"{phase}_get_p99_ms"] = _p(gets, 0.99)
    return out


async def run(workdir: Path) -> dict[str, float]:
    size = int(os.environ.get("S3GATE_BENCH_POOL_MIB", "32")) * MiB
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    # Obligations come from every permit that matches, so the masked read
    # permit must not match plain/* (the small GETs read raw bytes).
    masked_read = BENCH_POLICY.replace(
        'action in Action::"read", resource);',
        'action in Action::"read", resource)\nunless { resource.key like "plain/*" };',
    )
    (policies / "access" / "bench.cedar").write_text(masked_read + PLAIN_POLICY)
    pool = _dense_pool()
    gateways: dict[int, Server] = {}
    results: dict[str, float] = {"size_MiB": size / MiB, "dense_pool_MiB": len(pool) / MiB}
    try:
        for w in (2, 1, 0):
            gateways[w] = _gateway(workdir, f"store-{w}", policies, w)
        async with session() as http:
            clients = {w: S3Client(gw, http) for w, gw in gateways.items()}
            for client in clients.values():
                await client.put("bench", "plain/small.jsonl", SMALL_BODY, len(SMALL_BODY))
                await _put_rate(client, pool, 2 * MiB, "warm.jsonl")  # plans compiled
            samples: dict[int, list[float]] = {w: [] for w in clients}
            cpu: dict[int, dict[str, list[float]]] = {
                w: {"loop": [], "workers": []} for w in clients
            }
            for _ in range(ROUNDS):
                for w, client in clients.items():
                    samples[w].append(await _put_rate(client, pool, size, "t.jsonl", cpu[w]))
            rate = {w: median(v) for w, v in samples.items()}
            for w, label in ((2, "workers_2"), (1, "workers_1"), (0, "inline")):
                # CPU per MiB, independent of the box's load: the gateway
                # process (event loop, hashing and spool threads: the serial
                # part that bounds scaling) and the workers (the engine plus
                # what the pool adds: pickling, IPC). Inline, all is "loop".
                loop, workers = median(cpu[w]["loop"]), median(cpu[w]["workers"])
                results[f"put_cpu_s_per_MiB_{label}"] = loop + workers
                results[f"put_loop_cpu_s_per_MiB_{label}"] = loop
                results[f"put_worker_cpu_s_per_MiB_{label}"] = workers
            results["put_MiBps_workers_2"] = rate[2]
            results["put_MiBps_workers_1"] = rate[1]
            results["put_MiBps_inline"] = rate[0]
            results["put_ratio_2_vs_1_workers"] = rate[2] / rate[1]
            for w, label in ((2, "pool2"), (0, "inline")):
                lat = await _latencies(gateways[w], clients[w], http, pool, size)
                results |= {f"{label}_{k}": v for k, v in lat.items()}
    finally:
        for gw in gateways.values():
            gw.stop()
    for kind in ("healthz", "get"):
        results[f"{kind}_p99_added_ms_pool2"] = (
            results[f"pool2_busy_{kind}_p99_ms"] - results[f"pool2_idle_{kind}_p99_ms"]
        )
        results[f"{kind}_p99_added_ms_inline"] = (
            results[f"inline_busy_{kind}_p99_ms"] - results[f"inline_idle_{kind}_p99_ms"]
        )
    return results
