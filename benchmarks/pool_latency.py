"""Issue 13, benchmarks: p99 latency of concurrent small GETs while a large
masked upload completes, against the same GETs with nothing else running.

A masked multipart upload (`S3GATE_BENCH_LATENCY_MIB`, default 256 MiB, a
trace with PII in 10% of its records, 16 MiB parts) is sent through a
gateway with a masking pool of 2 workers on the local-directory store.
Its CompleteMultipartUpload masks the whole object (docs/masking.md, "Large
masked uploads"); the pool keeps that work off the event loop. Meanwhile
`SAMPLERS` clients each send signed 4 KiB GETs of a plain object one after
another; their latencies are collected idle (before and after the upload), while
the parts go up, and while the Complete runs. The target is < 20 ms added to
the idle p99 during the Complete.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.features_e2e import BENCH_POLICY, POLICIES
from benchmarks.load import MiB, S3Client, session
from benchmarks.masking_pool import PLAIN_POLICY, SMALL_BODY
from benchmarks.servers import Server, start_gateway
from tests.tracegen import generate

PART = 16 * MiB
SAMPLERS = 4
IDLE_SECONDS = 5.0


def _parts(size: int) -> Iterator[bytes]:
    """`size` bytes of the trace, repeated, in PART-sized parts (Complete
    masks the parts' concatenation, so records may straddle parts)."""
    pool, _ = generate(4000, seed=47, pii_rate=0.1)
    stream = pool * (PART // len(pool) + 2)
    offset, sent = 0, 0
    while sent < size:
        n = min(PART, size - sent)
        if offset + n > len(stream):
            offset = 0
        yield stream[offset : offset + n]
        offset += n
        sent += n


def _client(gw: Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=gw.endpoint,
        aws_access_key_id=gw.access_key,
        aws_secret_access_key=gw.secret_key,
        region_name="us-east-1",
        # Longer than the Complete takes: this measures the others, not retries.
        config=Config(
            s3={"addressing_style": "path"}, read_timeout=600, retries={"mode": "standard"}
        ),
    )


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(workdir: Path) -> dict[str, float]:
    size = int(os.environ.get("S3GATE_BENCH_LATENCY_MIB", "256")) * MiB
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    masked_read = BENCH_POLICY.replace(
        'action in Action::"read", resource);',
        'action in Action::"read", resource)\nunless { resource.key like "plain/*" };',
    )
    (policies / "access" / "bench.cedar").write_text(masked_read + PLAIN_POLICY)
    gw = start_gateway(
        workdir,
        None,
        {
            "upstream": {
                "type": "local",
                "path": str(workdir / "store"),
                "create_buckets": ["bench", "audit"],
            },
            "policy": {"dir": str(policies)},
            "masking": {"workers": 2},
        },
        groups=("maskers",),
    )
    phase = "idle"
    samples: dict[str, list[float]] = {"idle": [], "parts": [], "complete": []}
    stop = asyncio.Event()
    results: dict[str, float] = {"size_MiB": size / MiB}
    try:
        async with session() as http:
            small = S3Client(gw, http)
            await small.put("bench", "plain/small.jsonl", SMALL_BODY, len(SMALL_BODY))

            async def sampler() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    await small.get("bench", "plain/small.jsonl")
                    samples[phase].append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.005)

            tasks = [asyncio.ensure_future(sampler()) for _ in range(SAMPLERS)]
            await asyncio.sleep(IDLE_SECONDS)
            s3 = _client(gw)
            upload = await asyncio.to_thread(
                s3.create_multipart_upload, Bucket="bench", Key="big.jsonl"
            )
            uid = upload["UploadId"]
            phase = "parts"
            done = []
            for number, body in enumerate(_parts(size), start=1):
                part = await asyncio.to_thread(
                    s3.upload_part,
                    Bucket="bench",
                    Key="big.jsonl",
                    UploadId=uid,
                    PartNumber=number,
                    Body=body,
                )
                done.append({"PartNumber": number, "ETag": part["ETag"]})
            phase = "complete"
            started = time.perf_counter()
            await asyncio.to_thread(
                s3.complete_multipart_upload,
                Bucket="bench",
                Key="big.jsonl",
                UploadId=uid,
                MultipartUpload={"Parts": done},
            )
            results["complete_seconds"] = time.perf_counter() - started
            # Idle again afterwards: the baseline is taken on both sides of
            # the upload, so that drift in the box's load shows in neither.
            phase = "idle"
            await asyncio.sleep(IDLE_SECONDS)
            stop.set()
            await asyncio.gather(*tasks)
            head = await asyncio.to_thread(s3.head_object, Bucket="bench", Key="big.jsonl")
    finally:
        gw.stop()
    results["stored_masked"] = float(head["Metadata"].get("s3gate-mask-profiles", "") != "")
    for name, values in samples.items():
        results[f"{name}_get_n"] = len(values)
        results[f"{name}_get_p50_ms"] = _p(values, 0.5)
        results[f"{name}_get_p99_ms"] = _p(values, 0.99)
    results["complete_get_p99_added_ms"] = (
        results["complete_get_p99_ms"] - results["idle_get_p99_ms"]
    )
    results["parts_get_p99_added_ms"] = results["parts_get_p99_ms"] - results["idle_get_p99_ms"]
    return results
