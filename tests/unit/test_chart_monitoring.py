"""The chart's ServiceMonitor and PrometheusRule against what s3gate exports
and what docs/deployment.md promises.

The metric names are not copied from anywhere: they are scraped from a real
`s3gate.metrics.Metrics` after one request, with every status figure
present. Every series an alert expression reads, and every label it matches
on, must be one of those; every alert deployment.md's checklist names must
be a rule, and every rule must be named there (and in the chart README).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from starlette.requests import Request

from s3gate.handlers import HANDLERS
from s3gate.handlers.outcome import Outcome
from s3gate.metrics import STS_OPERATIONS, Metrics
from tests.helmchart import CHART, MINIMAL, ROOT, _yaml, objects, values
from tests.promtext import samples

PRODUCTION = values(_yaml(CHART / "ci" / "production-values.yaml"))
HASH = "0" * 64
ENABLED = values(
    MINIMAL,
    {
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True, "expectedBundleHash": HASH},
        }
    },
)


class _Everything(Mapping[str, Any]):
    """A status in which every figure is present (1), whatever its name."""

    def __getitem__(self, key: str) -> Any:
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def get(self, key: str, default: Any = None) -> Any:
        return 1


def _exported() -> dict[str, set[str]]:
    """sample name → its label names, as s3gate's /_s3gate/metrics shows them."""
    metrics = Metrics(HANDLERS)
    metrics.request_done(
        Outcome("R", "GET", operation="GetObject", bytes_in=1, bytes_out=1), 200, 0.01
    )
    metrics.watch(lambda: {"bundle_hash": HASH}, lambda: _Everything())
    metrics.watch_refusals({"RequestHeaderSectionTooLarge": 1})
    metrics.watch_views(lambda: {"write": 1, "read": 1, "found": 1})
    metrics.watch_masking(lambda: _Everything())

    async def scrape() -> bytes:
        scope = {"type": "http", "method": "GET", "path": "/_s3gate/metrics", "headers": []}
        return bytes((await metrics.endpoint(Request(scope))).body)

    out: dict[str, set[str]] = {}
    for name, labels in samples(asyncio.run(scrape()).decode()):
        out.setdefault(name, set()).update(k for k, _ in labels)
    return out


EXPORTED = _exported()


def _rules(vals: dict[str, Any]) -> list[dict[str, Any]]:
    rule = objects(vals)["PrometheusRule/s3gate"]
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


# PromQL words that are not series: functions, aggregations, keywords.
PROMQL = {
    "sum", "count", "min", "max", "avg", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "rate", "irate", "increase", "changes",
    "histogram_quantile", "offset", "bool",
}  # fmt: skip


def _series(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched on) for each selector in `expr`."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings out
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations out
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels out
    found = []
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?", text):
        name, matchers = m.group(1), m.group(2) or ""
        if name in PROMQL or re.fullmatch(r"\d.*", name):
            continue
        if text[m.end() :].lstrip().startswith("(") and not matchers:
            continue  # a function call
        labels = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!=|!~|=)", matchers)
        found.append((name, set(labels)))
    return found


def test_the_expression_parser_sees_what_it_should() -> None:
    got = _series(
        'sum by (namespace, job) (rate(s3gate_requests_total{job="j",status=~"5.."}[5m]))'
        " / ignoring(x) count(up)"
    )
    assert got == [("s3gate_requests_total", {"job", "status"}), ("up", set())]


def test_every_alert_reads_series_s3gate_exports() -> None:
    rules = _rules(ENABLED)
    assert rules
    for rule in rules:
        series = _series(rule["expr"])
        assert series, rule["alert"]
        for name, labels in series:
            assert name in EXPORTED, f"{rule['alert']}: {name} is not a series s3gate exports"
            # job and namespace are the scrape's labels (the ServiceMonitor's)
            unknown = labels - EXPORTED[name] - {"job", "namespace"}
            assert unknown == set(), f"{rule['alert']}: {name} has no label {unknown}"


def test_the_latency_alert_names_real_operations() -> None:
    ops = ENABLED["metrics"]["prometheusRule"]["latencyOperations"].split("|")
    known = set(HANDLERS) | STS_OPERATIONS
    assert [op for op in ops if op not in known] == []
    assert "GetObject" not in ops and "PutObject" not in ops  # size-bound, not latency-bound


def test_rules_are_scoped_to_the_release() -> None:
    for rule in _rules(ENABLED):
        for selector in re.findall(r"s3gate_[a-z_]+\{([^}]*)\}", rule["expr"]):
            assert 'job="s3gate-headless",namespace="default"' in selector, rule["alert"]
        texts = [rule["expr"], *rule.get("annotations", {}).values()]
        assert [s for s in texts if "{{" in s or "}}" in s] == [], "an unrendered template"


def test_the_expected_bundle_alert_only_with_a_hash() -> None:
    names = {r["alert"] for r in _rules(ENABLED)}
    assert "S3gatePolicyBundleUnexpected" in names
    without = values(MINIMAL, {"metrics": {"prometheusRule": {"enabled": True}}})
    assert "S3gatePolicyBundleUnexpected" not in {r["alert"] for r in _rules(without)}
    (unexpected,) = [r for r in _rules(ENABLED) if r["alert"] == "S3gatePolicyBundleUnexpected"]
    assert f'bundle_hash!="{HASH}"' in unexpected["expr"]


def test_additional_rules_are_appended() -> None:
    extra = {"alert": "MyAlert", "expr": "vector(1)", "labels": {"severity": "info"}}
    vals = values(
        MINIMAL, {"metrics": {"prometheusRule": {"enabled": True, "additionalRules": [extra]}}}
    )
    assert _rules(vals)[-1] == extra


def test_monitoring_is_opt_in() -> None:
    rendered = objects(values(MINIMAL))
    assert not [k for k in rendered if k.startswith(("ServiceMonitor/", "PrometheusRule/"))]


# ---------------------------------------------------------------------------
# deployment.md, the chart README and the rules say the same
# ---------------------------------------------------------------------------

DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
CHECKLIST = DEPLOYMENT.split("\n## Operations checklist\n", 1)[1].split("\n## ", 1)[0]
README = (CHART / "README.md").read_text()
README_ALERTS = README.split("\n### Alerts\n", 1)[1].split("\n## ", 1)[0]


def test_the_doc_and_the_rules_name_the_same_alerts() -> None:
    rules = {r["alert"] for r in _rules(ENABLED)}
    in_doc = set(re.findall(r"`(S3gate[A-Za-z]+)`", CHECKLIST))
    in_readme = set(re.findall(r"^\| `(S3gate[A-Za-z]+)` \|", README_ALERTS, re.M))
    assert in_doc == rules
    assert in_readme == rules


def test_every_metric_of_the_checklist_has_an_alert_reading_it() -> None:
    table = [line for line in CHECKLIST.splitlines() if line.startswith("| `s3gate_")]
    assert len(table) >= 6
    read = {name for r in _rules(ENABLED) for name, _ in _series(r["expr"])}
    for line in table:
        metric = re.match(r"\| `(s3gate_[a-z_]+)", line)
        assert metric, line
        name = metric.group(1)
        assert {name, f"{name}_bucket"} & read, f"{name}: no alert reads it"
        assert re.search(r"`S3gate[A-Za-z]+`", line), f"{name}: the row names no chart alert"


def test_the_doc_names_only_exported_metrics() -> None:
    for name in re.findall(r"`(s3gate_[a-z_]+)", CHECKLIST):
        assert {name, f"{name}_total", f"{name}_bucket"} & set(EXPORTED), name


# ---------------------------------------------------------------------------
# The ServiceMonitor
# ---------------------------------------------------------------------------


def _metrics_route() -> str:
    app = (ROOT / "s3gate" / "app.py").read_text()
    m = re.search(r'Route\("(/_s3gate/metrics)", metrics\.endpoint', app)
    assert m
    return m.group(1)


@pytest.mark.parametrize("tls", [False, True])
def test_the_service_monitor_scrapes_each_replica(tls: bool) -> None:
    extra = {"secrets": {"tls": {"existingSecret": "t"}}} if tls else {}
    rendered = objects(values(ENABLED, extra))
    monitor = rendered["ServiceMonitor/s3gate"]["spec"]
    (endpoint,) = monitor["endpoints"]
    assert endpoint["path"] == _metrics_route()
    assert endpoint["scheme"] == ("https" if tls else "http")
    assert endpoint["port"] == "s3"
    assert monitor["namespaceSelector"] == {"matchNames": ["default"]}
    selector = monitor["selector"]["matchLabels"].items()
    headless = rendered["Service/s3gate-headless"]
    main = rendered["Service/s3gate"]
    # only the headless Service (every replica, ready or not), not both
    assert selector <= headless["metadata"]["labels"].items()
    assert not selector <= main["metadata"]["labels"].items()
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert [p["name"] for p in headless["spec"]["ports"]] == ["s3"]
    # the rules' job label is the Service the monitor scrapes
    assert 'job="s3gate-headless"' in _rules(ENABLED)[0]["expr"]


def test_production_scrapes_with_the_monitor_not_the_annotations() -> None:
    # `podAnnotations: {}` would merge with the defaults: null removes them.
    assert "podAnnotations" in _yaml(CHART / "ci" / "production-values.yaml")
    assert _yaml(CHART / "ci" / "production-values.yaml")["podAnnotations"] is None
    sts = objects(PRODUCTION)["StatefulSet/s3gate"]
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("prometheus.io/")]
    assert "ServiceMonitor/s3gate" in objects(PRODUCTION)
