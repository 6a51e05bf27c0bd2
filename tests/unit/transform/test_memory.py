"""Memory does not grow with object size (invariant 4): the engine holds a
block and one record at most, whatever it streams."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from s3gate.transform.engine import Masker
from s3gate.transform.settings import Limits
from tests.unit.transform.helpers import example

MiB = 1024 * 1024


def _peak(total: int, pool: bytes) -> int:
    masker = Masker(
        [example("write-default")],
        content_type="application/x-ndjson",
        content_encoding=None,
        key="big.jsonl",
        limits=Limits(),
    )

    async def source() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            for i in range(0, len(pool), 65536):
                yield pool[i : i + 65536]
                sent += 65536

    async def run() -> None:
        async for _ in masker.transform(source()):
            pass

    tracemalloc.start()
    try:
        asyncio.run(run())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peak_in_fresh_process(total: int) -> int:
    """tracemalloc counts every thread of a process; in a full test run other
    tests' servers share ours, so measure in an interpreter of its own."""
    code = (
        "from tests.unit.transform.test_memory import _peak\n"
        "from tests.tracegen import generate\n"
        "pool, _ = generate(400, seed=2, pii_rate=0.2)\n"
        f"print(_peak({total}, pool))\n"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def test_peak_memory_does_not_grow_with_size() -> None:
    small = _peak_in_fresh_process(4 * MiB)
    large = _peak_in_fresh_process(48 * MiB)
    assert large < 12 * MiB
    assert large < small + 4 * MiB
