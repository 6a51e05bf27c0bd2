"""Prometheus metrics at `/_s3gate/metrics`: what an operator alerts on.

Request counters and durations are observed when a response is done (with the
access log, `accesslog.AccessLog`); the audit and policy figures are read when
scraped, from the same status the readiness check reports. One registry per
app, never the library's global one, so that tests and embedded apps do not
share counters.

Labels are bounded: an operation outside the known set (say, an STS action
name a client made up) is counted as `other`, so a caller cannot grow the
number of series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from s3gate.handlers.outcome import Outcome

# Small objects take milliseconds, large ones minutes.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
STS_OPERATIONS = frozenset({"sts:AssumeRoleWithWebIdentity"})

Status = Callable[[], Mapping[str, Any]]


class Metrics:
    def __init__(self, operations: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known = frozenset(operations) | STS_OPERATIONS
        self.requests = Counter(
            "s3gate_requests",
            "Requests answered, by operation and HTTP status.",
            ("operation", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "s3gate_request_duration_seconds",
            "Time from request to the last byte of the answer.",
            ("operation",),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.received = Counter(
            "s3gate_received_bytes", "Body bytes received from clients.", registry=self.registry
        )
        self.sent = Counter(
            "s3gate_sent_bytes", "Body bytes sent to clients.", registry=self.registry
        )

    def request_done(self, outcome: Outcome, status: int, seconds: float) -> None:
        """One answered request, from its outcome."""
        operation = outcome.operation
        label = operation if operation is not None and operation in self._known else "other"
        self.requests.labels(label, str(status)).inc()
        self.duration.labels(label).observe(seconds)
        for value, counter in ((outcome.bytes_in, self.received), (outcome.bytes_out, self.sent)):
            if value is not None and value > 0:
                counter.inc(value)

    def watch_refusals(self, counts: Mapping[str, int]) -> None:
        """Connections refused by the HTTP protocol before any request
        (`httplimits`), by S3 error code: a live mapping, read at each scrape."""
        self.registry.register(_RefusalCollector(counts))

    def watch(self, policy: Status, audit: Status | None) -> None:
        """Read the policy and audit status at each scrape."""
        self.registry.register(_StatusCollector(policy, audit))

    def watch_views(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Read the shared read views' counters at each scrape."""
        self.registry.register(_ViewsCollector(counts))

    def watch_masking(self, status: Status) -> None:
        """Read the masking worker pool's status (`MaskingService.status`)
        at each scrape."""
        self.registry.register(_MaskingCollector(status))

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


# (status key, metric name, help); booleans become 0/1, None is left out,
# except where None means "nothing waiting" (`_ZERO_WHEN_NONE`).
_AUDIT = (
    ("backlog_events", "s3gate_audit_backlog_events", "Events spooled, not yet shipped."),
    ("backlog_bytes", "s3gate_audit_backlog_bytes", "Bytes spooled, not yet shipped."),
    (
        "oldest_unshipped_age_seconds",
        "s3gate_audit_oldest_unshipped_age_seconds",
        "Age of the oldest event not yet in the audit bucket.",
    ),
    ("spool_writable", "s3gate_audit_spool_writable", "1 if events can be made durable."),
    (
        "lost_events",
        "s3gate_audit_lost_events",
        "Completion events that could not be made durable since start.",
    ),
    (
        "last_shipped_sequence",
        "s3gate_audit_last_shipped_sequence",
        "Sequence number of the newest shipped manifest.",
    ),
)


# An empty backlog has no oldest event; exported as 0 so that an alert on
# "age > 60" has a series to evaluate (an absent series never fires, and
# never resolves, either).
_ZERO_WHEN_NONE = frozenset({"oldest_unshipped_age_seconds"})


class _StatusCollector(Collector):
    def __init__(self, policy: Status, audit: Status | None) -> None:
        self._policy = policy
        self._audit = audit

    def collect(self) -> Iterable[Metric]:
        bundle = GaugeMetricFamily(
            "s3gate_policy_bundle_info", "The policy bundle in force.", labels=("bundle_hash",)
        )
        bundle.add_metric((str(self._policy().get("bundle_hash")),), 1)
        yield bundle
        if self._audit is None:
            return
        state = self._audit()
        for key, name, text in _AUDIT:
            value = state.get(key)
            if value is None and key in _ZERO_WHEN_NONE:
                value = 0
            if value is not None:
                yield GaugeMetricFamily(name, text, value=float(value))


class _RefusalCollector(Collector):
    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "s3gate_http_refused",
            "Connections refused before a request reached the gateway (request "
            "limits, invalid HTTP, too many connections), by S3 error code.",
            labels=("code",),
        )
        for code, count in sorted(dict(self._counts).items()):
            family.add_metric((code,), float(count))
        yield family


class _ViewsCollector(Collector):
    """Views this replica built (at write time, on a read or listing) and
    found ready in the store: a profile change shows as a burst of builds."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        built = CounterMetricFamily(
            "s3gate_views_built", "Read views built by this replica.", labels=("when",)
        )
        for when in ("write", "read"):
            built.add_metric((when,), float(counts.get(when, 0)))
        yield built
        yield CounterMetricFamily(
            "s3gate_views_found",
            "Masked reads and listed keys whose view was already in the store.",
            value=float(counts.get("found", 0)),
        )
        markers = CounterMetricFamily(
            "s3gate_sources_markers",
            "Writers' sources markers written, failed to write (a re-upload next "
            "sync, never a failed write) and used by the writer's listings.",
            labels=("outcome",),
        )
        for outcome in ("written", "failed", "used"):
            markers.add_metric((outcome,), float(counts.get(f"sources_{outcome}", 0)))
        yield markers


class _MaskingCollector(Collector):
    """The masking worker pool: workers replaced after dying since the start
    (each failed the runs it held with a 500), and workers alive now. Zero
    workers configured (masking inline) gives 0 for both."""

    def __init__(self, status: Status) -> None:
        self._status = status

    def collect(self) -> Iterable[Metric]:
        status = self._status()
        yield CounterMetricFamily(
            "s3gate_masking_worker_restarts",
            "Masking worker processes replaced after dying, since the start.",
            value=float(status.get("restarts", 0)),
        )
        yield GaugeMetricFamily(
            "s3gate_masking_workers_alive",
            "Masking worker processes alive now (of masking.workers).",
            value=float(status.get("alive", 0)),
        )
