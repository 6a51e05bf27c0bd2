"""Webhook notifications: a JSON POST per created / approved / denied /
expired / released hold, Slack incoming-webhook compatible (`text`) plus the
structured fields. Never any content: ids, key, rule names, counts, who and
the reason an approver typed.

Delivery runs beside the request (a bounded queue, one sender task), retried
with exponential back-off; a message that still fails is logged and dropped —
the audit trail, not the webhook, is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from s3gate.approvals.model import HoldRequest, iso
from s3gate.identity.principal import Principal

log = logging.getLogger("s3gate.approvals")
QUEUE = 1000


def message(kind: str, request: HoldRequest, who: Principal | None, reason: str) -> dict[str, Any]:
    actor = f" by {who.subject}" if who is not None else ""
    text = (
        f"s3gate approval {request.hold_id} {kind}{actor}: write to "
        f"s3://{request.bucket}/{request.key} waits for {', '.join(request.rules)}"
        if kind == "created"
        else f"s3gate approval {request.hold_id} {kind}{actor} (s3://{request.bucket}/{request.key})"
    )
    return {
        "text": text,
        "event": f"approval.{kind}",
        "approval_id": request.hold_id,
        "bucket": request.bucket,
        "key": request.key,
        "rules": list(request.rules),
        "reasons": list(request.reasons),
        "requester": request.requester.subject,
        "actor": who.subject if who is not None else None,
        "reason": reason or None,
        "size": request.size,
        "sha256": request.sha256,
        "expires": iso(request.expires),
    }


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    attempts: int = 5
    first_delay_seconds: float = 0.5
    timeout_seconds: float = 5.0


class Notifier:
    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self._task: asyncio.Task[None] | None = None

    def send(self, payload: dict[str, Any]) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.error("approvals webhook: queue full, notification %s dropped", payload["event"])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                payload = await self._queue.get()
                await self._deliver(session, payload)

    async def _deliver(self, session: aiohttp.ClientSession, payload: dict[str, Any]) -> None:
        delay = self.settings.first_delay_seconds
        for attempt in range(1, self.settings.attempts + 1):
            try:
                async with session.post(self.settings.url, json=payload) as resp:
                    if resp.status < 300:
                        return
                    status = str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            log.warning("approvals webhook: attempt %d failed (%s)", attempt, status)
            if attempt < self.settings.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.error("approvals webhook: notification %s dropped", payload["event"])
