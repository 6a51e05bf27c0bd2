"""object_response: small bodies answered whole, large ones streamed, the
source always released, a short body never answered as if complete."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.responses import Response, StreamingResponse

from s3gate import errors
from s3gate.handlers.bodies import BUFFERED_MAX, object_response
from s3gate.handlers.outcome import Tally


class _Source:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.closed = 0

    async def iterate(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece

    async def close(self) -> None:
        self.closed += 1


async def _respond(pieces: list[bytes], length: int) -> tuple[Response, Tally, _Source]:
    source = _Source(pieces)
    stats = Tally("R", "GET")
    response = await object_response(
        stats,
        source.iterate(),
        length,
        status=200,
        headers={"content-length": str(length)},
        close=source.close,
    )
    return response, stats, source


@pytest.mark.parametrize("length", [0, 1, 4096, BUFFERED_MAX])
async def test_small_bodies_are_answered_whole(length: int) -> None:
    body = b"b" * length
    pieces = [body[: length // 2], body[length // 2 :]]
    response, stats, source = await _respond(pieces, length)
    assert type(response) is Response
    assert response.body == body
    assert stats.bytes_out == length and stats.body_out == body
    assert source.closed == 1


async def test_large_bodies_stream_and_count_what_was_sent() -> None:
    length = BUFFERED_MAX + 1
    response, stats, source = await _respond([b"x" * (length - 1), b"y"], length)
    assert isinstance(response, StreamingResponse)
    assert stats.body_out is None and stats.bytes_out == 0
    sent = b"".join([bytes(p) async for p in response.body_iterator])  # type: ignore[misc]
    assert len(sent) == length and stats.bytes_out == length
    assert source.closed >= 1


@pytest.mark.parametrize("pieces", [[b"short"], [b"much too long " * 2]])
async def test_a_body_of_the_wrong_length_is_an_error(pieces: list[bytes]) -> None:
    with pytest.raises(errors.InternalError):
        await _respond(pieces, 10)


async def test_the_source_is_released_when_reading_fails() -> None:
    class Broken(_Source):
        async def iterate(self) -> AsyncIterator[bytes]:
            yield b"part"
            raise errors.ServiceUnavailable("store went away")

    source = Broken([])
    with pytest.raises(errors.ServiceUnavailable):
        await object_response(
            Tally("R", "GET"), source.iterate(), 100, status=200, headers={}, close=source.close
        )
    assert source.closed == 1


async def test_an_unsent_stream_releases_an_async_generator_source() -> None:
    """The client went away before the body: the response's background task
    releases the source. An async generator's `aclose` is not a coroutine
    function; it must still be awaited, on the loop."""
    finished = False

    async def pieces() -> AsyncIterator[bytes]:
        nonlocal finished
        try:
            yield b"x" * (BUFFERED_MAX + 1)
        finally:
            finished = True

    source = pieces()
    await anext(source)  # started, as a store stream is once its headers are in
    response = await object_response(
        Tally("R", "GET"), source, BUFFERED_MAX + 1, status=200, headers={}, close=source.aclose
    )
    assert response.background is not None
    await response.background()
    assert finished
