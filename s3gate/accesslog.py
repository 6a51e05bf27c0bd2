"""One structured JSON line per request, written when the response is done.

Fields: request id, client address (`source_ip`), principal, access key id,
operation, bucket, key, status, bytes in and out, duration, error code.
Never secrets, tokens or signatures.
The same moment feeds the request metrics (`metrics.Metrics`), if enabled.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.responses import Response

from s3gate.metrics import Metrics

_log = logging.getLogger("s3gate.access")
# Request stats that are content, not facts about the request: never logged.
_CONTENT = frozenset({"body_out"})


def _plain(value: object) -> object:
    """Objects that describe themselves (e.g. a masking summary) as dicts."""
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class AccessLog:
    def __init__(self, enabled: bool, metrics: Metrics | None = None) -> None:
        self.enabled = enabled
        self.metrics = metrics
        if enabled and not _log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            _log.addHandler(handler)
            _log.setLevel(logging.INFO)
            _log.propagate = False

    def attach(
        self,
        response: Response,
        entry: dict[str, object],
        started: float,
        stats: dict[str, object] | None = None,
    ) -> None:
        """Log once the body has been sent: `stats` (bytes out of a streamed
        body) are only complete then."""
        if not self.enabled and self.metrics is None:
            return

        # A coroutine, not a plain function: Starlette runs a plain background
        # function in its thread pool, and that hop (a thread waking and taking
        # the GIL from the loop) cost a quarter of small-GET throughput.
        # Formatting a line and writing it to stdout is cheaper than the hop.
        async def write() -> None:
            if stats:
                entry.update({k: v for k, v in stats.items() if k not in _CONTENT})
            seconds = time.perf_counter() - started
            entry["status"] = response.status_code
            entry["duration_ms"] = round(seconds * 1000, 3)
            if self.metrics is not None:
                self.metrics.request_done(entry, response.status_code, seconds)
            if self.enabled:
                _log.info(
                    json.dumps({k: v for k, v in entry.items() if v is not None}, default=_plain)
                )

        task = BackgroundTask(write)
        if response.background is None:
            response.background = task
        else:
            tasks = BackgroundTasks([response.background, task])
            response.background = tasks
