"""Issue 4 end-to-end figure: small-object GET ops/s through a gateway that
enforces the example bundle vs one whose bundle allows everything, same run,
an equal local-directory store each (moto would cap both at its own ~100
ops/s and hide the policy cost). The client is the dev-admin persona (a static key in `admins`),
so both gateways answer the same requests; only the policy work differs."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.bench_policy import POLICIES, _allow_all
from benchmarks.load import S3Client, median, ops_per_second, session
from benchmarks.servers import start_gateway

OPS = 600
ROUNDS = 5
CONCURRENCY = 16


async def run(workdir: Path) -> dict[str, float]:
    (workdir / "allow-all").mkdir()
    allow_all = _allow_all(workdir / "allow-all")

    def local(name: str, policies: Path) -> dict[str, object]:
        return {
            "upstream": {"type": "local", "path": str(workdir / name), "create_buckets": ["bench"]},
            "policy": {"dir": str(policies)},
        }

    enforced = start_gateway(workdir, None, local("enforced", POLICIES))
    permissive = start_gateway(workdir, None, local("permissive", allow_all))
    try:
        async with session() as http:
            body = os.urandom(4096)
            clients = {
                "enforced": S3Client(enforced, http),
                "allow_all": S3Client(permissive, http),
            }
            for client in clients.values():
                await ops_per_second(
                    lambda i, c=client: c.put("bench", f"s/{i}", body, 4096), 64, 8
                )
                await ops_per_second(lambda i, c=client: c.get("bench", f"s/{i % 64}"), 200, 16)
            # Alternate the two gateways round by round so that drift in the
            # machine's load affects both alike; report medians.
            samples: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(ROUNDS):
                for name, client in clients.items():
                    samples[name].append(
                        await ops_per_second(
                            lambda i, c=client: c.get("bench", f"s/{i % 64}"), OPS, CONCURRENCY
                        )
                    )
            results = {f"small_get_{n}_ops": median(v) for n, v in samples.items()}
            results["small_get_policy_ratio"] = (
                results["small_get_enforced_ops"] / results["small_get_allow_all_ops"]
            )
            return results
    finally:
        enforced.stop()
        permissive.stop()
