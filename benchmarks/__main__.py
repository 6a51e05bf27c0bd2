"""`make bench`: figures as ratios against a baseline measured in the same run.

Usage: python -m benchmarks [section ...]   (default: every section)

Sections: foundation, policy, policy-e2e, identity, masking, audit,
features-e2e, attack, views, masked-mpu, masking-pool, pool-latency; `audit-e2e`
(part of features-e2e) and `views-list`, `views-live` and `views-sources` (parts
of views) run alone on request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks import (
    attack,
    bench_audit,
    bench_identity,
    bench_masking,
    bench_policy,
    bench_views,
    features_e2e,
    foundation,
    masked_mpu,
    masking_pool,
    policy_e2e,
    pool_latency,
)

Section = Callable[[Path], Awaitable[dict[str, float]]]


def _in_process(run: Callable[[], dict[str, float]]) -> Section:
    async def section(workdir: Path) -> dict[str, float]:
        return run()

    return section


SECTIONS: dict[str, Section] = {
    "foundation": foundation.run,
    "policy": _in_process(bench_policy.run),
    "policy-e2e": policy_e2e.run,
    "identity": bench_identity.measure,
    "masking": bench_masking.run,
    "audit": bench_audit.section,
    "features-e2e": features_e2e.run,
    "attack": attack.run,
    "views": bench_views.run,
}
# Parts of a section, runnable alone (not part of the default run).
EXTRA: dict[str, Section] = {
    "audit-e2e": features_e2e.audit_only,
    "views-list": bench_views.listing_only,
    "views-sources": bench_views.sources_only,
    "views-live": bench_views.live_only,
}
SECTIONS["masked-mpu"] = masked_mpu.run
SECTIONS["masking-pool"] = masking_pool.run
SECTIONS["pool-latency"] = pool_latency.run


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    known = SECTIONS | EXTRA
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    report: dict[str, dict[str, float]] = {}
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"s3gate-bench-{name}-") as tmp:
            started = time.perf_counter()
            print(f"== {name}", flush=True)
            results = asyncio.run(known[name](Path(tmp)))
            for key, value in results.items():
                print(f"  {key:<34} {value:12.3f}")
            print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
            report[name] = results
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    print(f"written to {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
