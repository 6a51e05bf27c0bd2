"""Policy decision cost: single-decision latency and a 1000-key listing page.

    python -m benchmarks.bench_policy        # prints the figures as JSON

`run()` returns, in microseconds (`*_us`) or milliseconds (`*_ms`):
- single decisions with the shipped example bundle, an allow-all bundle and a
  generated bundle of 500 policies (p50 / p99);
- a 1000-key listing page decided with `decide_many`, as the gateway does it
  (grouped by what the policies can observe) and with grouping disabled, which
  is the cost when every key must be evaluated on its own.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from s3gate.identity.principal import Principal
from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.loader import load_bundle
from s3gate.policy.model import AccessRequest, RequestContext, Resource
from s3gate.policy.projection import Projection
from s3gate.policy.settings import PolicySettings

POLICIES = Path(__file__).resolve().parents[1] / "policies"
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
SINGLE_RUNS = 2000
PAGE_RUNS = 5


def _session(subject: str, role: str, groups: tuple[str, ...] = (), **claims: str) -> Principal:
    return Principal(subject, "ASIABENCH", "session", groups, "dev", role, None, "s", claims)


def _generated(directory: Path, count: int) -> Path:
    """`count` policies shaped like real ones: per-team writes and reads with
    obligations, some forbids, IP and time conditions."""
    shutil.copy(POLICIES / "schema.cedarschema", directory / "schema.cedarschema")
    (directory / "access").mkdir()
    out = []
    for i in range(count):
        team = f"team-{i}"
        kind = i % 5
        if kind == 0:
            out.append(
                f'@id("gen.{i}.write") @mask("write-default")\n'
                f'permit (principal in Group::"{team}", action in Action::"write", resource)\n'
                f'when {{ resource.bucket == "traces" && resource has dir1 && '
                f'resource.dir1 == "{team}" }};'
            )
        elif kind == 1:
            out.append(
                f'@id("gen.{i}.read") @mask("analyst-view")\n'
                f'permit (principal in Group::"{team}", action in Action::"read", resource)\n'
                f'when {{ resource.bucket == "traces" && resource has dir1 && '
                f'resource.dir1 == "{team}" }};'
            )
        elif kind == 2:
            out.append(
                f'@id("gen.{i}.list")\n'
                f'permit (principal in Group::"{team}", action in Action::"list", resource)\n'
                f'when {{ resource.bucket == "traces" && '
                f'context.source_ip.isInRange(ip("10.0.0.0/8")) }};'
            )
        elif kind == 3:
            out.append(
                f'@id("gen.{i}.hours")\n'
                f'forbid (principal in Group::"{team}", action in Action::"write", resource)\n'
                f"when {{ context.now.hour < 6 || context.now.weekday > 5 }};"
            )
        else:
            out.append(
                f'@id("gen.{i}.types")\n'
                f'forbid (principal in Group::"{team}", action == Action::"PutObject", resource)\n'
                f"unless {{ context has content_type && "
                f'context.content_type like "application/*" }};'
            )
    (directory / "access" / "generated.cedar").write_text("\n\n".join(out) + "\n")
    return directory


def _allow_all(directory: Path) -> Path:
    shutil.copy(POLICIES / "schema.cedarschema", directory / "schema.cedarschema")
    (directory / "access").mkdir()
    (directory / "access" / "all.cedar").write_text(
        '@id("all") permit (principal, action, resource);\n'
    )
    return directory


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def _latency(bundle: Bundle, requests: list[AccessRequest], cached: bool) -> tuple[float, float]:
    for r in requests:  # warm up
        bundle.decide(r)
    samples = []
    for i in range(SINGLE_RUNS):
        request = requests[i % len(requests)]
        if not cached:
            bundle.clear_cache()
        start = time.perf_counter()
        bundle.decide(request)
        samples.append((time.perf_counter() - start) * 1e6)
    return _percentiles(samples)


def _page(bundle: Bundle, requests: list[AccessRequest]) -> float:
    """Best of a few cold runs (nothing remembered from the previous one)."""
    bundle.decide_many(requests[:10])
    best = float("inf")
    for _ in range(PAGE_RUNS):
        bundle.clear_cache()
        start = time.perf_counter()
        bundle.decide_many(requests)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def _ungrouped(bundle: Bundle) -> Bundle:
    """The same bundle deciding every request on its own."""
    bundle.projection = Projection(None, None)
    return bundle


def run() -> dict[str, float]:
    out: dict[str, float] = {}
    ctx = RequestContext("GetObject", "10.1.2.3", now=NOW)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gen").mkdir()
        (root / "all").mkdir()
        dirs = {
            "example": POLICIES,
            "allow_all": _allow_all(root / "all"),
            "generated_500": _generated(root / "gen", 500),
        }
        bundles = {name: load_bundle(PolicySettings(dir=d)) for name, d in dirs.items()}
        plain = {name: _ungrouped(load_bundle(PolicySettings(dir=d))) for name, d in dirs.items()}
    analyst = _session("alice", "analyst", ("analysts", "team-1"))
    writer = _session("bot", "trace-writer", ("team-0",), team="alpha")
    singles = [
        AccessRequest(analyst, "GetObject", Resource.object("traces", "alpha/run-1.jsonl"), ctx),
        AccessRequest(writer, "PutObject", Resource.object("traces", "alpha/run-2.jsonl"), ctx),
        AccessRequest(writer, "GetObject", Resource.object("traces", "beta/run-3.jsonl"), ctx),
        AccessRequest(analyst, "PutObject", Resource.object("audit", "m/1.json"), ctx),
        AccessRequest(analyst, "GetObject", Resource.object("traces", "team-1/run-4.jsonl"), ctx),
    ]
    keys = [f"{('alpha', 'beta', 'team-1')[i % 3]}/2025/run-{i}.jsonl" for i in range(1000)]
    page = model.listing_requests(analyst, "ListObjectsV2", "traces", keys, [], ctx)
    for name, bundle in bundles.items():
        for label, cached in (("uncached", False), ("cached", True)):
            p50, p99 = _latency(bundle, singles, cached)
            out[f"{name}_decision_{label}_p50_us"] = round(p50, 1)
            out[f"{name}_decision_{label}_p99_us"] = round(p99, 1)
        out[f"{name}_page_1000_keys_ms"] = round(_page(bundle, page), 2)
        out[f"{name}_page_1000_keys_ungrouped_ms"] = round(_page(plain[name], page), 2)
    out["example_policies"] = float(len(bundles["example"].policies))
    out["generated_policies"] = float(len(bundles["generated_500"].policies))
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
