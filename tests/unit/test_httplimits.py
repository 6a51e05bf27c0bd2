"""The request-head limits of `s3gate.httplimits`, one table row each.

The protocol is driven as uvicorn drives it (connection_made, data_received)
over an in-memory transport, with a real ASGI app behind it: a request that
passes the limits reaches the app; one that does not is answered by the
protocol with an S3 XML error and `Connection: close`, and the app never runs.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from s3gate import config, errors
from s3gate.httplimits import (
    LINGER_BYTES,
    HeadLimits,
    LimitedHttpToolsProtocol,
    Refusals,
    error_response,
    protocol_class,
)
from s3gate.identity.sessions import MAX_TOKEN_CHARS

LIMITS = HeadLimits(
    max_headers=20,
    max_head_bytes=2048,
    max_header_bytes=512,
    head_timeout_seconds=0.2,
    max_connections=3,
)


class Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed or half-closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.eof = False
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 9000), "peername": ("127.0.0.1", 40000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


@dataclass
class App:
    """A real ASGI app: answers 200 and remembers the requests it saw."""

    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Connection:
    protocol: LimitedHttpToolsProtocol
    transport: Transport
    app: App

    def send(self, data: bytes, piece: int | None = None) -> None:
        step = piece or len(data) or 1
        for i in range(0, len(data), step):
            self.protocol.data_received(data[i : i + step])

    @property
    def status(self) -> int | None:
        match = re.match(rb"HTTP/1.1 (\d{3}) ", bytes(self.transport.written))
        return int(match.group(1)) if match else None


def server(limits: HeadLimits = LIMITS) -> tuple[Config, ServerState, App, Refusals]:
    app = App()
    refusals = Refusals()
    cfg = Config(app=app, http=protocol_class(limits, refusals), ws="none", lifespan="off")
    cfg.load()
    return cfg, ServerState(), app, refusals


def connect(cfg: Config, state: ServerState, app: App) -> Connection:
    protocol = cfg.http_protocol_class(config=cfg, server_state=state, app_state={})  # type: ignore[call-arg]
    assert isinstance(protocol, LimitedHttpToolsProtocol)
    transport = Transport()
    protocol.connection_made(transport)
    return Connection(protocol, transport, app)


def head(*headers: tuple[str, str], path: str = "/bucket/key") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "host: gw.test", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Row:
    data: bytes
    status: int  # 200: reached the app
    code: str | None = None
    piece: int | None = None  # bytes per data_received call


ROWS: dict[str, Row] = {
    "plain request": Row(head(("user-agent", "boto3")), 200),
    "at the header count": Row(
        head(*[(f"x-h{i}", "v") for i in range(LIMITS.max_headers - 1)]), 200
    ),
    "one header too many": Row(
        head(*[(f"x-h{i}", "v") for i in range(LIMITS.max_headers)]),
        431,
        "RequestHeaderSectionTooLarge",
    ),
    "repeated header, many times": Row(
        head(*[("x-amz-meta-a", "v" * 10)] * 60_000), 431, "RequestHeaderSectionTooLarge"
    ),
    "one header at its limit": Row(head(("x-big", "v" * (512 - len("x-big")))), 200),
    "one header over its limit": Row(
        head(("x-big", "v" * (513 - len("x-big")))), 431, "RequestHeaderSectionTooLarge"
    ),
    "head over its limit in small headers": Row(
        head(*[(f"x-h{i}", "v" * 150) for i in range(15)]), 431, "RequestHeaderSectionTooLarge"
    ),
    "one huge header, byte by byte": Row(
        head(("x-big", "v" * 100_000)), 431, "RequestHeaderSectionTooLarge", piece=1
    ),
    "one huge header, in 64 KiB reads": Row(
        head(("x-big", "v" * 16 * 1024 * 1024)),
        431,
        "RequestHeaderSectionTooLarge",
        piece=65536,
    ),
    "long path": Row(head(path="/b/" + "k" * 4000), 431, "RequestHeaderSectionTooLarge"),
    "not HTTP": Row(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64, 400, "InvalidRequest"
    ),
    "bad header line": Row(b"GET / HTTP/1.1\r\nhost gw.test\r\n\r\n", 400, "InvalidRequest"),
    "split over reads": Row(head(("user-agent", "x" * 300)), 200, piece=7),
}


@pytest.mark.parametrize("name", list(ROWS))
async def test_head_limits(name: str) -> None:
    row = ROWS[name]
    cfg, state, app, refusals = server()
    conn = connect(cfg, state, app)
    conn.send(row.data, row.piece)
    await asyncio.sleep(0.01)  # the app task, when there is one
    assert conn.status == row.status
    if row.status == 200:
        assert len(app.seen) == 1
        assert not conn.transport.closed
        return
    # Refused by the protocol: the app never ran, the answer is S3 XML and
    # the connection is closing (half-closed, lingering), not kept alive.
    assert app.seen == []
    answer = bytes(conn.transport.written)
    assert b"connection: close\r\n" in answer
    assert b"content-type: application/xml\r\n" in answer
    assert f"<Code>{row.code}</Code>".encode() in answer
    assert re.search(rb"<RequestId>[0-9A-F]{16}</RequestId>", answer)
    assert conn.transport.eof and conn.transport.paused
    assert refusals.counts == {row.code: 1}
    # Whatever still arrives is dropped, up to a bound.
    conn.send(b"x" * (LINGER_BYTES + 1), 65536)
    assert conn.transport.closed
    assert bytes(conn.transport.written) == answer


async def test_the_head_byte_limit_bounds_what_is_buffered() -> None:
    """However much a client sends, the parser is fed at most one head's
    worth: a 16 MiB header is refused after `max_head_bytes`."""
    cfg, state, app, _ = server()
    conn = connect(cfg, state, app)
    fed: list[int] = []

    class Counting:
        def __init__(self, parser: Any) -> None:
            self.parser = parser

        def feed_data(self, data: bytes) -> None:
            fed.append(len(data))
            self.parser.feed_data(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.parser, name)

    conn.protocol.parser = Counting(conn.protocol.parser)  # type: ignore[assignment]
    conn.send(head(("x-big", "v" * 16 * 1024 * 1024)), 65536)
    assert conn.status == 431
    assert sum(fed) == LIMITS.max_head_bytes


async def test_a_slow_head_is_answered_408() -> None:
    cfg, state, app, refusals = server()
    conn = connect(cfg, state, app)
    conn.send(b"GET /b/k HTTP/1.1\r\nhost: gw")
    await asyncio.sleep(LIMITS.head_timeout_seconds + 0.1)
    assert conn.status == 408
    assert b"<Code>RequestTimeout</Code>" in bytes(conn.transport.written)
    assert app.seen == [] and refusals.counts == {"RequestTimeout": 1}


async def test_a_silent_connection_is_closed_without_an_answer() -> None:
    cfg, state, app, _ = server()
    conn = connect(cfg, state, app)
    await asyncio.sleep(LIMITS.head_timeout_seconds + 0.1)
    assert conn.transport.closed and conn.transport.written == b""


async def test_the_head_timer_stops_at_the_end_of_the_head() -> None:
    """A request whose head arrived in time is not cut off while its body
    (or its answer) takes longer."""
    cfg, state, app, _ = server()
    conn = connect(cfg, state, app)
    conn.send(b"PUT /b/k HTTP/1.1\r\nhost: gw.test\r\ncontent-length: 4\r\n\r\n")
    await asyncio.sleep(LIMITS.head_timeout_seconds + 0.1)
    assert not conn.transport.closed
    conn.send(b"body")
    await asyncio.sleep(0.01)
    assert conn.status == 200 and len(app.seen) == 1


async def test_limits_apply_to_each_request_of_a_kept_alive_connection() -> None:
    cfg, state, app, _ = server()
    conn = connect(cfg, state, app)
    for _ in range(3):  # each head may use the whole budget
        conn.send(head(*[(f"x-h{i}", "v" * 80) for i in range(15)]))
        await asyncio.sleep(0.01)
    assert len(app.seen) == 3 and not conn.transport.closed
    # The timer starts again with the next request's first byte.
    conn.send(b"GET /b/k HTTP/1.1\r\n")
    await asyncio.sleep(LIMITS.head_timeout_seconds + 0.1)
    assert b"<Code>RequestTimeout</Code>" in bytes(conn.transport.written)


async def test_too_many_connections_are_answered_503() -> None:
    cfg, state, app, refusals = server()
    kept = [connect(cfg, state, app) for _ in range(LIMITS.max_connections)]
    extra = connect(cfg, state, app)
    assert extra.status == 503 and b"<Code>SlowDown</Code>" in bytes(extra.transport.written)
    assert all(c.transport.written == b"" for c in kept)
    assert refusals.counts == {"SlowDown": 1}
    # Once one closes, a new connection is served.
    kept[0].protocol.connection_lost(None)
    extra.protocol.connection_lost(None)
    again = connect(cfg, state, app)
    again.send(head())
    await asyncio.sleep(0.01)
    assert again.status == 200


def test_error_response_is_a_complete_http_answer() -> None:
    raw = error_response(errors.RequestHeaderSectionTooLarge(), "0123456789ABCDEF")
    head_part, _, body = raw.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert f"content-length: {len(body)}".encode() in head_part
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>')
    assert b"<RequestId>0123456789ABCDEF</RequestId>" in body


def test_defaults_fit_real_clients_and_s3() -> None:
    server_settings = config.ServerSettings()
    limits = HeadLimits.from_settings(server_settings)
    assert limits.max_headers == 100
    assert limits.max_head_bytes == 16 * 1024 and limits.max_header_bytes == 8 * 1024 + 128
    # The longest session token our own STS issues fits in its header.
    assert len("x-amz-security-token") + MAX_TOKEN_CHARS <= limits.max_header_bytes
    assert limits.head_timeout_seconds == 10 and limits.max_connections == 1024
    assert server_settings.keep_alive_timeout_seconds == 65
    assert server_settings.forwarded_allow_ips == ()  # no proxy is trusted by default


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"max_header_bytes": 32 * 1024, "max_head_bytes": 16 * 1024}, "server"),
        ({"max_headers": 0}, "server.max_headers"),
        ({"head_timeout_seconds": 0}, "server.head_timeout_seconds"),
        ({"max_connections": 0}, "server.max_connections"),
    ],
)
def test_inconsistent_limits_are_a_configuration_error(values: dict[str, Any], key: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(key)):
        config.load(None, {"server": values})
