"""Issue 2 figures: the gateway against the store it fronts, in one run.

- 64 MiB PUT and GET throughput, direct to moto vs through s3gate (ratio);
- 4 KiB PUT and GET operations per second at 16 concurrent clients (ratio);
- s3gate's peak RSS while streaming 1 MiB and then 1 GiB up and down.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.load import MiB, PeakRss, S3Client, median, ops_per_second, pattern, session, timed
from benchmarks.servers import Server, start_gateway, start_moto

LARGE = 64 * MiB
ROUNDS = 5
SMALL_OPS = 1200
CONCURRENCY = 16


async def _large(client: S3Client, bucket: str) -> tuple[float, float]:
    # Warm up (lazy imports, connection pools) outside the timed rounds.
    await client.put(bucket, "warm", pattern(MiB), MiB)
    await client.get(bucket, "warm")
    puts, gets = [], []
    for i in range(ROUNDS):
        key = f"large-{i}"
        puts.append(await timed(lambda k=key: client.put(bucket, k, pattern(LARGE), LARGE)))
        gets.append(await timed(lambda k=key: client.get(bucket, k)))
    return LARGE / MiB / median(puts), LARGE / MiB / median(gets)


async def _small(client: S3Client, bucket: str) -> tuple[float, float]:
    body = os.urandom(4096)
    put = await ops_per_second(
        lambda i: client.put(bucket, f"s/{i}", body, len(body)), SMALL_OPS, CONCURRENCY
    )
    get = await ops_per_second(lambda i: client.get(bucket, f"s/{i}"), SMALL_OPS, CONCURRENCY)
    return put, get


async def _rss(gateway: Server, client: S3Client, bucket: str, size: int) -> int:
    with PeakRss(gateway.proc.pid) as rss:
        await client.put(bucket, f"rss-{size}", pattern(size), size)
        got = await client.get(bucket, f"rss-{size}")
    assert got == size
    return rss.peak


async def run(workdir: Path) -> dict[str, float]:
    moto = start_moto(workdir)
    gateway = start_gateway(workdir, moto)
    try:
        async with session() as http:
            direct, proxied = S3Client(moto, http), S3Client(gateway, http)
            await direct.create_bucket("bench")
            results: dict[str, float] = {}
            d_put, d_get = await _large(direct, "bench")
            g_put, g_get = await _large(proxied, "bench")
            results |= {
                "large_put_direct_MiBps": d_put,
                "large_put_gateway_MiBps": g_put,
                "large_put_ratio": g_put / d_put,
                "large_get_direct_MiBps": d_get,
                "large_get_gateway_MiBps": g_get,
                "large_get_ratio": g_get / d_get,
            }
            d_sput, d_sget = await _small(direct, "bench")
            g_sput, g_sget = await _small(proxied, "bench")
            results |= {
                "small_put_direct_ops": d_sput,
                "small_put_gateway_ops": g_sput,
                "small_put_ratio": g_sput / d_sput,
                "small_get_direct_ops": d_sget,
                "small_get_gateway_ops": g_sget,
                "small_get_ratio": g_sget / d_sget,
            }
            small_peak = await _rss(gateway, proxied, "bench", MiB)
            big_peak = await _rss(gateway, proxied, "bench", 1024 * MiB)
            results |= {
                "rss_peak_1MiB_MiB": small_peak / MiB,
                "rss_peak_1GiB_MiB": big_peak / MiB,
                "rss_growth_MiB": (big_peak - small_peak) / MiB,
            }
            return results
    finally:
        gateway.stop()
        moto.stop()
