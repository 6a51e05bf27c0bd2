"""When the gateway closes the connection after an error: a body declared
and not read to its end is still on the wire."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from s3gate.handlers.bodies import left_unread


@dataclass
class _Body:  # the two facts left_unread reads of a VerifiedBody
    length: int | None
    bytes_received: int


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, None, False),
        ({"content-length": "0"}, None, False),
        ({"content-length": "10"}, None, True),  # never read
        ({"transfer-encoding": "chunked"}, None, True),
        ({"content-length": "10"}, _Body(10, 10), False),
        ({"content-length": "10"}, _Body(10, 4), True),
        ({"transfer-encoding": "chunked"}, _Body(None, 4), True),
    ],
)
def test_left_unread(headers: dict[str, str], body: _Body | None, expected: bool) -> None:
    assert left_unread(headers, body) is expected  # type: ignore[arg-type]
