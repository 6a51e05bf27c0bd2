"""Audit benchmark: what the audit trail costs a request, and how far behind
the audit bucket runs.

Figures (all with real fsync on the local disk, in a temporary directory):

- `record_ops_1`, `record_ops_16`: AuditLog.record() calls per second with 1
  and 16 concurrent writers (each call returns once its event is durable);
  `record_p50_ms_16`, `record_p99_ms_16`: its latency at 16 writers;
  `fsyncs_per_event_16`: group commit at work; `record_cpu_us`: CPU time
  (all threads) per event, building and encoding it included — the audit's
  cost to a CPU-bound gateway, where throughput ≈ 1 - this / CPU per request.
- `put_ops_audit_off` / `put_ops_audit_on`, `get_ops_…`: small-object PUT and
  GET against the local directory store at 16 concurrent clients, without and
  with auditing as the gateway should do it: PUT awaits its event before
  answering; GET submits its decision event before fetching from the store,
  awaits it before the first byte, and queues its completion event
  (`record_nowait`) after the last. Ratios `put_ratio`,
  `get_ratio` (target ≥ 0.9). There is no HTTP, signing or policy work here,
  so a request is far cheaper than through the gateway and the audit's share
  is overstated; the gateway's end-to-end figure comes from its own benchmark.
- `ship_p50_s`, `ship_p99_s`: from record() to the event being in the bucket
  sealed by a signed manifest, with the default settings (batch every 5 s).

Run: `python -m benchmarks.bench_audit` (prints JSON).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from s3gate.audit import batch as batches
from s3gate.audit.events import PrincipalInfo
from s3gate.audit.settings import AuditSettings
from s3gate.audit.write.builders import RequestEvent
from s3gate.audit.write.log import AuditLog
from s3gate.upstream.base import Body, Metadata, PutResult, Upstream
from s3gate.upstream.local import LocalUpstream

CLIENTS = 16
PRINCIPAL = PrincipalInfo("svc-writer", "AKIDBENCHMARK0001", "session", "https://idp", "writer")


def _event(n: int, op: str = "PutObject") -> RequestEvent:
    ev = RequestEvent(
        f"REQ{n:012d}",
        operation=op,
        bucket="traces",
        key=f"runs/{n}.jsonl",
        source_ip="10.0.0.1",
        user_agent="Boto3/1.36 md/Botocore#1.36",
        principal=PRINCIPAL,
    )
    ev.decide("allow", policy_ids=("writers-own-prefix",), bundle_hash="b" * 64)
    ev.bytes_in, ev.sha256_received = 1024, "a" * 64
    return ev


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class _Watch:
    """Upstream wrapper noting when each event's manifest lands."""

    def __init__(self, inner: Upstream) -> None:
        self.inner = inner
        self.pending: list[str] = []
        self.shipped: dict[str, float] = {}

    async def put_object(self, bucket: str, key: str, body: Body, metadata: Metadata) -> PutResult:
        data = b"".join([c async for c in body.chunks])
        result = await self.inner.put_object(bucket, key, Body(_once(data), len(data)), metadata)
        if "/batches/" in key:
            self.pending = [json.loads(line)["request_id"] for line in batches.decode(data)]
        elif "/manifests/" in key:
            now = time.perf_counter()
            for request_id in self.pending:
                self.shipped[request_id] = now
            self.pending = []
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _open(root: Path, **overrides: Any) -> tuple[LocalUpstream, AuditLog]:
    store = LocalUpstream(root / "store")
    await store.start()
    for bucket in ("audit", "traces"):
        await store.create_bucket(bucket)
    settings = AuditSettings(dir=root / "audit", generate_key=True, **overrides)
    audit = AuditLog(settings, store, "bench-0", data_dir=root)
    return store, audit


async def _clients(n: int, count: int, work: Callable[[int], Awaitable[None]]) -> float:
    """Ops per second of `n` clients doing `count` operations in all."""
    per = count // n

    async def client(c: int) -> None:
        for i in range(per):
            await work(c * per + i)

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(n)))
    return per * n / (time.perf_counter() - start)


async def _record_rates(root: Path) -> dict[str, float]:
    store, audit = await _open(root, batch_max_seconds=1.0)
    await audit.start()
    out: dict[str, float] = {}
    latencies: list[float] = []

    async def record(n: int) -> None:
        ev = _event(n)
        start = time.perf_counter()
        await audit.record(ev.completion(200, sha256_stored="c" * 64))
        latencies.append(time.perf_counter() - start)

    out["record_ops_1"] = await _clients(1, 2000, record)
    syncs = audit.spool.syncs
    latencies.clear()
    cpu = time.process_time()
    out["record_ops_16"] = await _clients(CLIENTS, 16000, record)
    out["record_cpu_us"] = (time.process_time() - cpu) / 16000 * 1e6
    out["fsyncs_per_event_16"] = (audit.spool.syncs - syncs) / 16000
    q = statistics.quantiles(latencies, n=100)
    out["record_p50_ms_16"], out["record_p99_ms_16"] = q[49] * 1000, q[98] * 1000
    await audit.close()
    await store.close()
    return out


async def _requests(root: Path, audited: bool) -> dict[str, float]:
    store, audit = await _open(root)
    if audited:
        await audit.start()
    payload = os.urandom(1024)
    keys = 256

    async def put(n: int) -> None:
        ev = _event(n)
        await store.put_object("traces", f"k{n % keys}", Body(_once(payload), len(payload)), {})
        if audited:
            await audit.record(ev.completion(200, sha256_stored="c" * 64))

    async def get(n: int) -> None:
        ev = _event(n, "GetObject")
        # The decision's fsync overlaps the fetch; it is durable before the first byte.
        decided = audit.submit(ev.decision()) if audited else None
        stream = await store.get_object("traces", f"k{n % keys}")
        if decided is not None:
            await decided
        size = 0
        async for chunk in stream.body:
            size += len(chunk)
        await stream.aclose()
        if audited:  # the body is out: nothing waits on the completion's fsync
            audit.record_nowait(ev.completion(200, bytes_out=size, sha256_returned="d" * 64))

    suffix = "on" if audited else "off"
    out = {
        f"put_ops_audit_{suffix}": await _clients(CLIENTS, 4000, put),
        f"get_ops_audit_{suffix}": await _clients(CLIENTS, 4000, get),
    }
    if audited:
        await audit.close()
    await store.close()
    return out


async def _ship_latency(root: Path, seconds: float, rate: float) -> dict[str, float]:
    store, audit = await _open(root)  # default batching: every 5 s or 1000 events
    watch = _Watch(store)
    audit = AuditLog(audit.settings, watch, "bench-0", data_dir=root)
    await audit.start()
    recorded: dict[str, float] = {}
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        ev = _event(n)
        await audit.record(ev.completion(200))
        recorded[ev.request_id] = time.perf_counter()
        n += 1
        await asyncio.sleep(1 / rate)
    deadline = time.perf_counter() + 30
    while len(watch.shipped) < len(recorded) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    delays = [watch.shipped[r] - t for r, t in recorded.items() if r in watch.shipped]
    await audit.close()
    await store.close()
    q = statistics.quantiles(delays, n=100)
    return {"ship_p50_s": q[49], "ship_p99_s": q[98], "ship_events": float(len(delays))}


async def section(workdir: Path, ship_seconds: float = 12.0) -> dict[str, float]:
    """All figures, working under `workdir` (for `python -m benchmarks`)."""
    out: dict[str, float] = {}
    out |= await _record_rates(workdir / "record")
    # Alternate off/on and keep the best of each, to damp noise.
    for i in range(3):
        for audited in (False, True):
            got = await _requests(workdir / f"req-{i}-{audited}", audited)
            for name, value in got.items():
                out[name] = max(out.get(name, 0.0), value)
    out["put_ratio"] = out["put_ops_audit_on"] / out["put_ops_audit_off"]
    out["get_ratio"] = out["get_ops_audit_on"] / out["get_ops_audit_off"]
    out |= await _ship_latency(workdir / "ship", ship_seconds, rate=200)
    return {k: round(v, 4) for k, v in out.items()}


def run(ship_seconds: float = 12.0) -> dict[str, float]:
    """All figures, in a temporary directory on the local disk (`BENCH_DIR`
    to choose another file system)."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        return asyncio.run(section(Path(tmp), ship_seconds))


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
