"""Issue 2 figures: the gateway against the store it fronts, in one run.

- 64 MiB PUT and GET throughput, direct to moto vs through s3gate (ratio);
- 4 KiB PUT and GET operations per second at 16 concurrent clients (ratio);
- s3gate's peak RSS while streaming 1 MiB and then 1 GiB up and down.

The large transfers are also measured through `benchmarks.relay`, a kernel
splice(2) forwarder with no user-space work at all: on a small machine that
runs the store, the client and the proxy together, the extra hop alone costs
a share of the direct figure, and no proxy can beat that bound.

The gateway is measured as deployed (audit on: every streamed body is also
BLAKE3-hashed for its audit event, `audit.returned_digest`), with audit
off (the foundation's own data path) and, for large GETs, with
`returned_digest: sha256` (what the digest choice is worth, same run).
Rounds alternate between direct and the gateways (medians), so drift in the
machine's load affects all alike.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.load import MiB, PeakRss, S3Client, median, ops_per_second, pattern, session, timed
from benchmarks.servers import Server, start_gateway, start_moto, start_relay

LARGE = 64 * MiB
ROUNDS = 5
SMALL_OPS = 600
CONCURRENCY = 16


async def _rounds(
    clients: dict[str, S3Client], job: Callable[[S3Client, int], Awaitable[float]]
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for i in range(ROUNDS):
        for name, client in clients.items():
            samples[name].append(await job(client, i))
    return {name: median(values) for name, values in samples.items()}


async def _large_put(client: S3Client, i: int) -> float:
    return (
        LARGE / MiB / await timed(lambda: client.put("bench", f"large-{i}", pattern(LARGE), LARGE))
    )


async def _large_get(client: S3Client, i: int) -> float:
    return LARGE / MiB / await timed(lambda: client.get("bench", "large-0"))


async def _small_put(client: S3Client, i: int) -> float:
    body = os.urandom(4096)
    return await ops_per_second(
        lambda n: client.put("bench", f"s/{n % 256}", body, 4096), SMALL_OPS, CONCURRENCY
    )


async def _small_get(client: S3Client, i: int) -> float:
    return await ops_per_second(
        lambda n: client.get("bench", f"s/{n % 256}"), SMALL_OPS, CONCURRENCY
    )


async def _rss(gateway: Server, client: S3Client, size: int) -> int:
    with PeakRss(gateway.proc.pid) as rss:
        await client.put("bench", f"rss-{size}", pattern(size), size)
        got = await client.get("bench", f"rss-{size}")
    assert got == size
    return rss.peak


def _ratios(results: dict[str, float], what: str, unit: str) -> dict[str, float]:
    direct = results["direct"]
    out = {
        f"{what}_direct_{unit}": direct,
        f"{what}_gateway_{unit}": results["gateway"],
        f"{what}_ratio": results["gateway"] / direct,
        f"{what}_ratio_audit_off": results["no-audit"] / direct,
    }
    if "relay" in results:
        out[f"{what}_ratio_splice_relay"] = results["relay"] / direct
    if "sha256" in results:
        out[f"{what}_ratio_sha256_digest"] = results["sha256"] / direct
    return out


async def run(workdir: Path) -> dict[str, float]:
    moto = start_moto(workdir)
    gateway = start_gateway(workdir / "on", moto)
    plain = start_gateway(workdir / "off", moto, {"audit": {"enabled": False}})
    relay = start_relay(workdir, moto)
    sha = start_gateway(workdir / "sha", moto, {"audit": {"returned_digest": "sha256"}})
    try:
        async with session() as http:
            clients = {
                "direct": S3Client(moto, http),
                "gateway": S3Client(gateway, http),
                "no-audit": S3Client(plain, http),
            }
            large_clients = clients | {"relay": S3Client(relay, http)}
            get_clients = large_clients | {"sha256": S3Client(sha, http)}
            await clients["direct"].create_bucket("bench")
            for client in clients.values():  # warm up: imports, pools, lazy init
                await client.put("bench", "warm", pattern(MiB), MiB)
                await client.get("bench", "warm")
                await _small_put(client, 0)
            await get_clients["sha256"].get("bench", "warm")
            results: dict[str, float] = {}
            results |= _ratios(await _rounds(large_clients, _large_put), "large_put", "MiBps")
            results |= _ratios(await _rounds(get_clients, _large_get), "large_get", "MiBps")
            results |= _ratios(await _rounds(clients, _small_put), "small_put", "ops")
            results |= _ratios(await _rounds(clients, _small_get), "small_get", "ops")
            small_peak = await _rss(gateway, clients["gateway"], MiB)
            big_peak = await _rss(gateway, clients["gateway"], 1024 * MiB)
            results |= {
                "rss_peak_1MiB_MiB": small_peak / MiB,
                "rss_peak_1GiB_MiB": big_peak / MiB,
                "rss_growth_MiB": (big_peak - small_peak) / MiB,
            }
            return results
    finally:
        gateway.stop()
        plain.stop()
        relay.stop()
        sha.stop()
        moto.stop()
