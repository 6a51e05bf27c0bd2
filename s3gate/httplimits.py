"""Request limits at the HTTP protocol, before the application sees a request.

An unauthenticated client must cost the gateway only bounded CPU, memory and
connections (DESIGN invariant 8). uvicorn's httptools protocol has no limit
on the number or size of headers nor on the time a client takes to send
them: llhttp hands header fragments to httptools, which joins the fragments
of one header by concatenation until it ends, and uvicorn then builds the
whole header list before the application runs. So this subclass counts while
the head is parsed:

- the bytes of the request head (request line and header lines) are counted
  as they arrive, and the parser is never fed more than `max_head_bytes` of
  one head: a 16 MiB header costs 16 KiB of buffering, not 16 MiB;
- each header is counted and measured as the parser completes it, so 60,000
  headers are refused at the 101st;
- a timer runs from the start of a connection (or the first byte of a later
  request on it) to the end of the head: a client that trickles its headers
  (slowloris) is answered 408 and closed;
- a connection beyond `max_connections` is answered 503 SlowDown and closed.

Each refusal is an S3 XML error with a request id and `Connection: close`.
The connection then lingers briefly, unread, so that the client reads the
answer rather than a reset. Refusals here are
not audit events (no request exists yet, and an audit write per attacking
packet would hand the attacker the spool's fsyncs); they are counted and
logged, at most once per reason every `_LOG_EVERY` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from s3gate import errors
from s3gate.config import ServerSettings

log = logging.getLogger("s3gate.http")

# After a refusal the connection stays open, unread, this long (so that the
# answer reaches the client), then closes; bytes that still arrive are
# dropped, and past LINGER_BYTES the connection closes at once.
LINGER_SECONDS = 1.0
LINGER_BYTES = 256 * 1024
_LOG_EVERY = 10.0


@dataclass(frozen=True)
class HeadLimits:
    max_headers: int
    max_head_bytes: int
    max_header_bytes: int
    head_timeout_seconds: float
    max_connections: int

    @classmethod
    def from_settings(cls, server: ServerSettings) -> HeadLimits:
        return cls(
            max_headers=server.max_headers,
            max_head_bytes=server.max_head_bytes,
            max_header_bytes=server.max_header_bytes,
            head_timeout_seconds=server.head_timeout_seconds,
            max_connections=server.max_connections,
        )


@dataclass
class Refusals:
    """How many connections were refused, by S3 error code (for metrics and
    the rate-limited log). Shared by every connection of one server."""

    counts: dict[str, int] = field(default_factory=dict)
    _logged: dict[str, float] = field(default_factory=dict)

    def count(self, error: errors.S3Error, client: str | None) -> None:
        code = error.error_code
        self.counts[code] = self.counts.get(code, 0) + 1
        now = time.monotonic()
        if now - self._logged.get(code, -_LOG_EVERY) >= _LOG_EVERY:
            self._logged[code] = now
            log.warning(
                "refused a connection before its request: %s (%s); %d so far",
                code,
                error.message,
                self.counts[code],
                extra={"client": client},
            )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the error is kept on
    the protocol (httptools wraps whatever a callback raises)."""


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


def error_response(error: errors.S3Error, request_id: str, *, body: bool = True) -> bytes:
    """The raw HTTP/1.1 bytes of an S3 error answer that closes the connection."""
    xml = error.to_xml(request_id) if body else b""
    lines = [
        STATUS_LINE[error.http_status],
        b"content-type: application/xml\r\n",
        b"content-length: %d\r\n" % len(xml),
        b"connection: close\r\n",
        b"x-amz-request-id: " + request_id.encode() + b"\r\n",
        b"x-amz-id-2: " + request_id.encode() + b"\r\n",
        b"\r\n",
        xml,
    ]
    return b"".join(lines)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request-head limits above. Bind
    the limits with `protocol_class`; uvicorn creates one per connection."""

    limits: ClassVar[HeadLimits]
    refusals: ClassVar[Refusals]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: errors.S3Error | None = None
        self._refused = False
        self._lingered = 0
        self._linger_timer: asyncio.TimerHandle | None = None

    # Connection lifetime.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(errors.SlowDown("The gateway has too many open connections."))
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(data)
            return
        if not self._in_head:
            self._feed(data)
            return
        if self._head_timer is None:
            self._arm_head_timer()  # a later request on a kept-alive connection
        room = self.limits.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            self._feed(data)
            return
        # Only what may still belong to this head is parsed; the head must
        # end within it, or the request is refused without reading further.
        self._head_bytes += room
        self._feed(data[:room])
        if self._refused:
            return
        if self._in_head:
            self._refuse(
                errors.RequestHeaderSectionTooLarge(
                    f"The request line and headers exceed {self.limits.max_head_bytes} bytes."
                )
            )
            return
        self.data_received(data[room:])

    def _feed(self, data: bytes) -> None:
        """uvicorn's data_received, with parser errors answered in S3 XML."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No WebSocket endpoint exists (uvicorn runs with ws="none"): the
            # request is answered as plain HTTP. uvicorn logs two warnings
            # here, which any client could turn into a log flood; not us.
            pass
        except httptools.HttpParserError:
            refusal = self._refusal or errors.InvalidRequest("The request is not valid HTTP/1.1.")
            self._refuse(refusal)

    # Parser callbacks.
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = errors.RequestHeaderSectionTooLarge(
                f"The request has more than {self.limits.max_headers} headers."
            )
            raise _Refused
        if len(name) + len(value) > self.limits.max_header_bytes:
            self._refusal = errors.RequestHeaderSectionTooLarge(
                f"A request header exceeds {self.limits.max_header_bytes} bytes."
            )
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows on this connection is the next request's head.
        self._in_head = True
        self._head_bytes = 0

    # Refusal.
    def send_400_response(self, msg: str) -> None:
        self._refuse(errors.InvalidRequest("The request is not valid HTTP/1.1."))

    def _refuse(self, error: errors.S3Error) -> None:
        if self._refused:
            return
        self._refused = True
        self._cancel_head_timer()
        self._unset_keepalive_if_required()
        client = self.client[0] if self.client else None
        self.refusals.count(error, client)
        if self.cycle is not None and not self.cycle.response_complete:
            if not self._in_head:
                # The body of the request being answered is not valid HTTP:
                # close, as uvicorn does (the application sees a disconnect).
                self.transport.close()
                return
            # A pipelined request is refused while the one before it is being
            # answered: that answer goes out first, then the connection closes.
            self.cycle.keep_alive = False
            self.transport.pause_reading()
            return
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(error_response(error, new_request_id()))
        # Closing now, with the client's bytes unread, would reset the
        # connection and could destroy the answer before the client reads
        # it. Instead: stop reading (the client's sends back up in the
        # kernel's buffers, not ours), let the answer go, close after a
        # moment. What was already on its way is dropped, up to a bound.
        transport.pause_reading()
        if transport.can_write_eof():  # not over TLS
            transport.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self._close)

    def _discard(self, data: bytes) -> None:
        self._lingered += len(data)
        if self._lingered > LINGER_BYTES:
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    # Head timer.
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(
            self.limits.head_timeout_seconds, self._head_timed_out
        )

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._head_bytes == 0:
            # Connected (or kept alive) and silent: nothing to answer.
            self._refused = True
            self._close()
            return
        self._refuse(
            errors.RequestHeaderTimeout(
                f"The request head was not received within {self.limits.head_timeout_seconds:g}"
                " seconds."
            )
        )


def protocol_class(limits: HeadLimits, refusals: Refusals) -> type[LimitedHttpToolsProtocol]:
    """A protocol class bound to these limits, for `uvicorn.run(http=...)`."""
    return type(
        "S3gateHttpProtocol",
        (LimitedHttpToolsProtocol,),
        {"limits": limits, "refusals": refusals},
    )
