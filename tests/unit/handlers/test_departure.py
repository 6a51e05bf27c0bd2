"""A client leaving during a guarded write: the write is cancelled and the
request ends as ClientClosedRequest; a client that stays, or leaves after the
write, changes nothing; the caller's own cancellation stays a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from s3gate import errors
from s3gate.handlers.departure import Departure


def connection(leaves_after: float | None, body_messages: int = 0) -> Any:
    """A `receive` whose client sends `body_messages` (unread) body pieces,
    then disconnects after `leaves_after` seconds (None: never)."""
    sent = 0

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent < body_messages:
            sent += 1
            return {"type": "http.request", "body": b"x", "more_body": sent < body_messages}
        if leaves_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(leaves_after or 0)
        return {"type": "http.disconnect"}

    return receive


@pytest.mark.parametrize(
    ("leaves_after", "body_messages", "work", "gone"),
    [
        (0.05, 0, 5.0, True),  # leaves mid-write: the write is cancelled
        (0.05, 3, 5.0, True),  # an unread (empty-bodied copy's) body is drained first
        (None, 0, 0.05, False),  # stays
        (0.3, 0, 0.01, False),  # leaves after the write: nothing to undo
    ],
)
async def test_guard(
    leaves_after: float | None, body_messages: int, work: float, gone: bool
) -> None:
    departure = Departure(connection(leaves_after, body_messages))
    finished = False

    async def write() -> None:
        nonlocal finished
        async with departure.guard():
            await asyncio.sleep(work)
            finished = True
        # No late cancellation once the block is over.
        await asyncio.sleep(0.5)

    if gone:
        with pytest.raises(errors.ClientClosedRequest):
            await asyncio.wait_for(write(), 2)
        assert not finished
    else:
        await asyncio.wait_for(write(), 2)
        assert finished


async def test_the_callers_cancellation_is_not_a_departure() -> None:
    departure = Departure(connection(None))
    entered = asyncio.Event()

    async def write() -> None:
        async with departure.guard():
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.create_task(write())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_nobody_sees_it_but_the_record() -> None:
    error = errors.ClientClosedRequest()
    assert (error.error_code, error.http_status) == ("ClientClosedRequest", 499)
