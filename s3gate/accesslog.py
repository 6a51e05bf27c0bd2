"""One structured JSON line per request, written when the response is done.

Fields: the request's `Outcome` (handlers.outcome: request id, client address
`source_ip`, principal, access key id, operation, bucket, key, policy,
bytes in and out, digests, masking summary, error code; for STS the role
asked for and the session granted), then status and duration.
Never secrets, tokens, signatures or content.
The same moment feeds the request metrics (`metrics.Metrics`), if enabled.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.responses import Response

from s3gate.handlers.outcome import Tally
from s3gate.metrics import Metrics

_log = logging.getLogger("s3gate.access")


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
        tally: Tally,
        started: float,
    ) -> None:
        """Log once the body has been sent: the tally (bytes out of a streamed
        body) is only complete then, so it is frozen then."""
        if not self.enabled and self.metrics is None:
            return

        # A coroutine, not a plain function: Starlette runs a plain background
        # function in its thread pool, and that hop (a thread waking and taking
        # the GIL from the loop) cost a quarter of small-GET throughput.
        # Formatting a line and writing it to stdout is cheaper than the hop.
        async def write() -> None:
            outcome = tally.freeze()
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.request_done(outcome, response.status_code, seconds)
            if self.enabled:
                line = outcome.log_fields()
                line["status"] = response.status_code
                line["duration_ms"] = round(seconds * 1000, 3)
                _log.info(json.dumps(line))

        task = BackgroundTask(write)
        if response.background is None:
            response.background = task
        else:
            tasks = BackgroundTasks([response.background, task])
            response.background = tasks
