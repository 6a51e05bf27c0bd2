"""A client that leaves while its masked write is still on its way to the store.

A client that times out during a long masked PutObject retries with the same
body; if both attempts stored, the object would be masked and written twice
(and a slow store could land them in either order). Once the request body has
been read, nothing else listens on the connection, so a disconnect would go
unnoticed until the answer fails to send. `Departure.guard` listens for it
(uvicorn delivers `http.disconnect` from `receive()`) around the upstream
write: a client gone before the write is committed cancels the write — a
cancelled PUT is cut short, so the store keeps nothing; a whole sent in parts
is aborted (masking.upstreamput) — and the request ends as
`ClientClosedRequest` (499) in the audit trail and access log. A disconnect
while the body is still being read surfaces the same way (gateway.py). The
remaining window: a disconnect that arrives after the store received the
last byte but before its answer (docs/masking.md, "Large masked uploads").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from s3gate import errors

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class Departure:
    """Watches one request's connection; only once its body has been read
    (before that, `receive()` carries the body itself)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the block; if the client disconnects meanwhile, the block is
        cancelled and ClientClosedRequest raised instead."""
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(self._gone())
        active, left = True, False

        def on_gone(done: asyncio.Task[None]) -> None:
            nonlocal left
            # Only while the block runs: a block that has just finished
            # must not be cancelled at some later await.
            if active and not done.cancelled() and done.exception() is None:
                left = True
                task.cancel()

        watcher.add_done_callback(on_gone)
        try:
            yield
        except asyncio.CancelledError:
            if left and task.uncancel() == 0:
                raise errors.ClientClosedRequest() from None
            raise
        finally:
            active = False
            watcher.cancel()

    async def _gone(self) -> None:
        """Returns when the client has disconnected. A body the handler left
        unread (CopyObject's empty one) is drained on the way."""
        while (await self._receive()).get("type") != "http.disconnect":
            pass
