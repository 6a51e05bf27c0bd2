"""The response that carries an object's bytes (GET, plain or masked view).

Small bodies are read whole and answered in one go; larger ones stream. A
plain response costs the event loop less than a stream (no task group, no
per-chunk sends), and the audit trail then keeps one `request` event with the
returned body's SHA-256 instead of a decision event before the first byte and
a completion event after the last (docs/audit.md). The bound keeps what one
request holds in memory small whatever the concurrency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from s3gate import errors
from s3gate.handlers.outcome import Tally
from s3gate.sigv4.body import VerifiedBody

BUFFERED_MAX = 64 * 1024


async def object_response(
    tally: Tally,
    pieces: AsyncIterator[bytes],
    length: int | None,
    *,
    status: int,
    headers: dict[str, str],
    close: Callable[[], Awaitable[None]],
) -> Response:
    """`length` bytes from `pieces`; `close` releases the source either way.
    `length` None: not known before the end (a read view made as it is sent),
    always streamed (chunked; an error from `pieces` breaks the response).
    Sets `bytes_out` (and `body_out` when buffered) in the request's `tally`."""
    if length is not None and length <= BUFFERED_MAX:
        try:
            body = b"".join([piece async for piece in pieces])
        finally:
            await close()
        if len(body) != length:
            raise errors.InternalError("The upstream store sent a body of the wrong length")
        tally.returned_whole(body)
        return Response(body, status_code=status, headers=headers)
    tally.bytes_out = 0

    # Wrapped in a coroutine function: Starlette runs whatever it does not
    # recognise as one (an async generator's `aclose`, say) in a worker
    # thread, where the awaitable it returns would never be awaited.
    async def release() -> None:
        await close()

    return StreamingResponse(
        _relay(pieces, tally, close),
        status_code=status,
        headers=headers,
        background=BackgroundTask(release),
    )


async def _relay(
    pieces: AsyncIterator[bytes], tally: Tally, close: Callable[[], Awaitable[None]]
) -> AsyncIterator[bytes]:
    sent = 0
    try:
        async for piece in pieces:
            sent += len(piece)
            yield piece
    finally:
        tally.bytes_out = sent
        await close()


def left_unread(headers: Mapping[str, str], body: VerifiedBody | None) -> bool:
    """Whether a request's body is still (partly) on the connection after its
    answer: declared, and not read to its end (`body` None: never read). The
    gateway then closes the connection rather than read a refused upload of
    perhaps gigabytes to its end."""
    declared = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    if not declared:
        return False
    if body is None:
        return True
    length = body.length
    return length is None or body.bytes_received < length
