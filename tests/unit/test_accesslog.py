"""The access log line and request metrics: written once the answer is done,
on the event loop (no worker-thread hop per request), never the body."""

from __future__ import annotations

import json
import logging
import threading
import time

from starlette.responses import Response

from s3gate.accesslog import AccessLog
from s3gate.handlers.outcome import Tally
from s3gate.metrics import Metrics


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), record.threadName or ""))


async def test_the_line_is_written_on_the_loop_thread_with_the_stats() -> None:
    metrics = Metrics({"GetObject"})
    log = AccessLog(True, metrics)  # sets up the logger the first time
    capture = _Capture()
    logger = logging.getLogger("s3gate.access")
    logger.addHandler(capture)
    try:
        response = Response(b"hello")
        tally = Tally("R1", "GET", operation="GetObject")
        tally.returned_whole(b"hello")
        log.attach(response, tally, time.perf_counter())
        assert response.background is not None
        await response.background()
    finally:
        logger.removeHandler(capture)
    [(line, thread)] = capture.lines
    assert thread == threading.current_thread().name
    logged = json.loads(line)
    assert logged["request_id"] == "R1" and logged["status"] == 200
    assert logged["bytes_out"] == 5 and "body_out" not in logged
    sample = metrics.requests.labels("GetObject", "200")._value.get()
    assert sample == 1


async def test_metrics_without_the_log() -> None:
    metrics = Metrics({"PutObject"})
    response = Response(b"", status_code=403)
    tally = Tally("R2", "PUT", operation="PutObject")
    AccessLog(False, metrics).attach(response, tally, time.perf_counter())
    assert response.background is not None
    await response.background()
    assert metrics.requests.labels("PutObject", "403")._value.get() == 1


def test_neither_log_nor_metrics_adds_nothing() -> None:
    response = Response(b"")
    AccessLog(False, None).attach(response, Tally("R3", "GET"), time.perf_counter())
    assert response.background is None
