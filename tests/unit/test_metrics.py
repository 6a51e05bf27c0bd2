"""Prometheus metrics: bounded labels, byte counters, status read at scrape."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from s3gate.handlers.outcome import Outcome
from s3gate.metrics import Metrics
from tests.promtext import Samples, samples


def scrape(metrics: Metrics) -> Samples:
    async def run() -> bytes:
        scope = {"type": "http", "method": "GET", "path": "/_s3gate/metrics", "headers": []}
        response = await metrics.endpoint(Request(scope))
        assert response.media_type is not None and "text/plain" in response.media_type
        return bytes(response.body)

    return samples(asyncio.run(run()).decode())


@pytest.mark.parametrize(
    ("operation", "label"),
    [
        ("GetObject", "GetObject"),
        ("sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity"),
        ("sts:MadeUpAction123", "other"),  # a client cannot add series
        ("sts", "other"),
        (None, "other"),
        (42, "other"),
    ],
)
def test_operation_labels_are_bounded(operation: Any, label: str) -> None:
    metrics = Metrics({"GetObject", "PutObject"})
    metrics.request_done(Outcome("R", "GET", operation=operation), 503, 0.02)
    got = scrape(metrics)
    assert got[("s3gate_requests_total", (("operation", label), ("status", "503")))] == 1
    assert got[("s3gate_request_duration_seconds_count", (("operation", label),))] == 1
    assert (
        got[("s3gate_request_duration_seconds_bucket", (("le", "0.025"), ("operation", label)))]
        == 1
    )


def test_bytes_are_counted() -> None:
    metrics = Metrics({"PutObject", "GetObject"})
    metrics.request_done(Outcome("R", "GET", operation="PutObject", bytes_in=1000), 200, 0.1)
    metrics.request_done(
        Outcome("R", "GET", operation="GetObject", bytes_out=300, bytes_in=None), 200, 0.1
    )
    metrics.request_done(Outcome("R", "GET", operation="GetObject", bytes_out=200), 200, 0.1)
    got = scrape(metrics)
    assert got[("s3gate_received_bytes_total", ())] == 1000
    assert got[("s3gate_sent_bytes_total", ())] == 500
    assert got[("s3gate_requests_total", (("operation", "GetObject"), ("status", "200")))] == 2


def test_policy_and_audit_status_are_read_at_each_scrape() -> None:
    metrics = Metrics(set())
    audit: dict[str, Any] = {
        "backlog_events": 3,
        "backlog_bytes": 2048,
        "oldest_unshipped_age_seconds": None,  # nothing waiting: exported as 0
        "spool_writable": True,
        "lost_events": 0,
        "last_shipped_sequence": 7,
    }
    metrics.watch(lambda: {"bundle_hash": "abc"}, lambda: audit)
    got = scrape(metrics)
    assert got[("s3gate_policy_bundle_info", (("bundle_hash", "abc"),))] == 1
    assert got[("s3gate_audit_backlog_events", ())] == 3
    assert got[("s3gate_audit_spool_writable", ())] == 1
    assert got[("s3gate_audit_last_shipped_sequence", ())] == 7
    assert got[("s3gate_audit_oldest_unshipped_age_seconds", ())] == 0
    audit.update(spool_writable=False, oldest_unshipped_age_seconds=12.5)
    again = scrape(metrics)
    assert again[("s3gate_audit_spool_writable", ())] == 0
    assert again[("s3gate_audit_oldest_unshipped_age_seconds", ())] == 12.5


def test_without_audit_only_policy_is_reported() -> None:
    metrics = Metrics(set())
    metrics.watch(lambda: {"bundle_hash": "h"}, None)
    assert not [name for name, _ in scrape(metrics) if name.startswith("s3gate_audit_")]


def test_each_app_has_its_own_registry() -> None:
    one, two = Metrics({"GetObject"}), Metrics({"GetObject"})
    one.request_done(Outcome("R", "GET", operation="GetObject"), 200, 0.01)
    key = ("s3gate_requests_total", (("operation", "GetObject"), ("status", "200")))
    assert scrape(one)[key] == 1 and key not in scrape(two)


def test_protocol_refusals_are_read_at_each_scrape() -> None:
    metrics = Metrics(set())
    counts: dict[str, int] = {}
    metrics.watch_refusals(counts)
    assert not [key for key in scrape(metrics) if key[0] == "s3gate_http_refused_total"]
    counts["RequestHeaderSectionTooLarge"] = 3
    counts["SlowDown"] = 1
    got = scrape(metrics)
    assert got[("s3gate_http_refused_total", (("code", "RequestHeaderSectionTooLarge"),))] == 3
    assert got[("s3gate_http_refused_total", (("code", "SlowDown"),))] == 1


def test_view_counts_are_read_at_each_scrape() -> None:
    metrics = Metrics(set())
    counts = {"write": 2, "found": 5}
    metrics.watch_views(lambda: counts)
    got = scrape(metrics)
    assert got[("s3gate_views_built_total", (("when", "write"),))] == 2
    assert got[("s3gate_views_built_total", (("when", "read"),))] == 0
    assert got[("s3gate_views_found_total", ())] == 5
    counts["read"] = 7
    assert scrape(metrics)[("s3gate_views_built_total", (("when", "read"),))] == 7


def test_masking_pool_restarts_are_read_at_each_scrape() -> None:
    metrics = Metrics(set())
    status: dict[str, object] = {"workers": 2, "alive": 2, "pids": [10, 11], "restarts": 0}
    metrics.watch_masking(lambda: status)
    got = scrape(metrics)
    assert got[("s3gate_masking_worker_restarts_total", ())] == 0
    assert got[("s3gate_masking_workers_alive", ())] == 2
    status.update(alive=1, restarts=3)  # a worker died three times, one is coming back
    got = scrape(metrics)
    assert got[("s3gate_masking_worker_restarts_total", ())] == 3
    assert got[("s3gate_masking_workers_alive", ())] == 1


def test_sources_marker_counts_are_read_at_each_scrape() -> None:
    metrics = Metrics(set())
    counts = {"sources_written": 3, "sources_used": 2}
    metrics.watch_views(lambda: counts)
    got = scrape(metrics)
    assert got[("s3gate_sources_markers_total", (("outcome", "written"),))] == 3
    assert got[("s3gate_sources_markers_total", (("outcome", "failed"),))] == 0
    assert got[("s3gate_sources_markers_total", (("outcome", "used"),))] == 2
    counts["sources_failed"] = 1
    got = scrape(metrics)
    assert got[("s3gate_sources_markers_total", (("outcome", "failed"),))] == 1
