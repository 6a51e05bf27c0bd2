"""Issue 5 figures: masking throughput (MB/s on one core) on synthetic
reasoning traces at several PII densities (and on a dense corpus whose every record
carries at least five labelled values), and peak RSS growth while a
large JSONL stream (1 GiB by default) is masked.

Throughput runs the engine in-process over the streaming API, in 64 KiB
chunks as the gateway feeds it, after a warm-up run (profiles compile once
per policy bundle). The large stream cycles through a pool of generated
records, so generating it costs nothing measurable and needs no disk.

    python -m benchmarks.bench_masking        (or as a `make bench` section)
    S3GATE_BENCH_MASK_GIB=0.25 python -m benchmarks.bench_masking
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile, load_profiles
from s3gate.transform.settings import Limits
from s3gate.transform.tokenkeys import TokenKeys, generate_json
from tests.tracegen import generate

MiB = 1024 * 1024
CHUNK = 64 * 1024
PROFILES_DIR = Path(__file__).resolve().parents[1] / "policies" / "masking"
DENSITIES = (0.0, 0.05, 0.2)
RECORDS = 12000  # about 28 MB of traces per density
DENSE_RECORDS = 6000  # about 18 MB
DENSE_VALUES = 5


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


async def _mask(profile: Profile, source: AsyncIterator[bytes]) -> int:
    masker = Masker(
        [profile], content_type="application/x-ndjson", content_encoding=None,
        key="trace.jsonl", limits=Limits(),
    )  # fmt: skip
    total = 0
    async for piece in masker.transform(source):
        total += len(piece)
    return total


async def throughput(profile: Profile, data: bytes, rounds: int = 3) -> float:
    """Best of `rounds` MB/s (decimal MB) through one Masker per round."""
    await _mask(profile, _chunks(data[: 4 * MiB]))  # warm-up: compile the plan
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        await _mask(profile, _chunks(data))
        best = min(best, time.process_time() - started)
    return len(data) / 1e6 / best


async def _endless(pool: bytes, total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        for i in range(0, len(pool), CHUNK):
            piece = pool[i : i + CHUNK]
            sent += len(piece)
            yield piece
            if sent >= total:
                return


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def rss_growth(profile: Profile, pool: bytes, total: int) -> tuple[float, float, float]:
    """Peak RSS growth in MiB (over a warm 8 MiB run, and over the process
    before any masking, which includes compiling the plan), and MB/s."""
    cold = _peak_rss_mib()
    await _mask(profile, _endless(pool, 8 * MiB))
    warm = _peak_rss_mib()
    started = time.process_time()
    await _mask(profile, _endless(pool, total))
    elapsed = time.process_time() - started
    peak = _peak_rss_mib()
    return peak - warm, peak - cold, total / 1e6 / elapsed


async def run(workdir: Path) -> dict[str, float]:
    keys_file = workdir / "token-keys.json"
    keys_file.write_text(generate_json("bench"))
    profiles = load_profiles(PROFILES_DIR, TokenKeys.from_json(keys_file.read_text()))
    results: dict[str, float] = {}
    # RSS first, while the process is small: ru_maxrss only ever grows.
    # The pool is generated before the baseline: it is input, not growth.
    pool, _ = generate(2000, seed=9, pii_rate=0.05)
    gib = float(os.environ.get("S3GATE_BENCH_MASK_GIB", "1"))
    profile = profiles.get("write-default")
    growth, total, mbps = await rss_growth(profile, pool, int(gib * 1024 * MiB))
    results[f"RSS growth MiB, {gib:g} GiB vs 8 MiB"] = growth
    results[f"RSS growth MiB, {gib:g} GiB vs no run"] = total
    results[f"write-default MB/s, {gib:g} GiB stream"] = mbps
    for density in DENSITIES:
        data, _ = generate(RECORDS, seed=5, pii_rate=density)
        for name in ("write-default", "analyst-view"):
            mbps = await throughput(profiles.get(name), data)
            results[f"{name} MB/s @ {int(density * 100)}% PII"] = mbps
    # Dense: every record carries at least five labelled values (issue 13).
    data, _ = generate(DENSE_RECORDS, seed=5, min_values=DENSE_VALUES)
    for name in ("write-default", "analyst-view"):
        mbps = await throughput(profiles.get(name), data)
        results[f"{name} MB/s dense ({DENSE_VALUES}+ values/record)"] = mbps
    return results


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="s3gate-bench-masking-") as tmp:
        for key, value in asyncio.run(run(Path(tmp))).items():
            print(f"  {key:<42} {value:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
