"""Issue 13, item 3: a large masked multipart upload through the `aws` CLI
with `--cli-read-timeout 20` (shorter than its Complete takes), against a
gateway on the local-directory store. Reports the wall time, whether the
object was stored once and masked, and the gateway's peak RSS growth over
its resting RSS — and the same for the same file uploaded unmasked (an
admin through a gateway of its own), as the baseline.

Size: `S3GATE_BENCH_MPU_MIB` (default 1024), a trace with PII in 10% of its
records; the file is written once in the work folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from benchmarks.features_e2e import BENCH_POLICY, POLICIES
from benchmarks.load import MiB, PeakRss
from benchmarks.servers import Server, start_gateway
from tests.tracegen import generate

LIST_POLICY = """
@id("bench.list")
permit (principal is Service in Group::"maskers", action in Action::"list", resource);
"""
AWS = str(Path(sys.executable).parent / "aws")


def _trace_file(path: Path, size: int) -> None:
    pool, _ = generate(4000, seed=41, pii_rate=0.1)
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = pool[: size - written]
            out.write(piece)
            written += len(piece)


def _client(gw: Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=gw.endpoint,
        aws_access_key_id=gw.access_key,
        aws_secret_access_key=gw.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def _cp(gw: Server, src: Path, key: str) -> tuple[float, float]:
    """`aws s3 cp` of `src` through `gw`: (seconds, peak RSS growth in MiB
    over the gateway's resting RSS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ENDPOINT_URL": gw.endpoint,
        "AWS_ACCESS_KEY_ID": gw.access_key,
        "AWS_SECRET_ACCESS_KEY": gw.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    rest = psutil.Process(gw.proc.pid).memory_info().rss
    started = time.perf_counter()
    with PeakRss(gw.proc.pid) as peak:
        done = subprocess.run(
            [AWS, "s3", "cp", str(src), f"s3://bench/{key}", "--cli-read-timeout", "20"],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    return seconds, (peak.peak - rest) / MiB


def _local(workdir: Path, name: str) -> dict[str, Any]:
    return {
        "type": "local",
        "path": str(workdir / name),
        "create_buckets": ["bench", "audit"],
    }


async def run(workdir: Path) -> dict[str, float]:
    size = int(os.environ.get("S3GATE_BENCH_MPU_MIB", "1024")) * MiB
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "bench.cedar").write_text(BENCH_POLICY + LIST_POLICY)
    src = workdir / "mpu.jsonl"
    _trace_file(src, size)
    # The same file unmasked first (an admin: the default policies mask
    # nothing of theirs), as the baseline of time and memory.
    plain = start_gateway(workdir / "plain", None, {"upstream": _local(workdir, "plain-store")})
    try:
        plain_seconds, plain_growth = _cp(plain, src, "plain.jsonl")
        plain_head = _client(plain).head_object(Bucket="bench", Key="plain.jsonl")
    finally:
        plain.stop()
    gw = start_gateway(
        workdir,
        None,
        {"upstream": _local(workdir, "store"), "policy": {"dir": str(policies)}},
        groups=("maskers",),
    )
    try:
        seconds, growth = _cp(gw, src, "mpu.jsonl")
        client = _client(gw)
        head = client.head_object(Bucket="bench", Key="mpu.jsonl")
        listed = client.list_objects_v2(Bucket="bench")
        keys = [o["Key"] for o in listed.get("Contents", [])]
    finally:
        gw.stop()
    masked = head["Metadata"].get("s3gate-mask-profiles", "") != ""
    return {
        "mpu_cli_size_MiB": size / MiB,
        "plain_cli_seconds": plain_seconds,
        "plain_cli_MiBps": size / MiB / plain_seconds,
        "plain_cli_stored_size_ok": float(plain_head["ContentLength"] == size),
        "plain_cli_rss_growth_MiB": plain_growth,
        "mpu_cli_seconds": seconds,
        "mpu_cli_MiBps": size / MiB / seconds,
        "mpu_cli_stored_once": float(keys == ["mpu.jsonl"]),
        "mpu_cli_masked": float(masked),
        "mpu_cli_rss_growth_MiB": growth,
    }
