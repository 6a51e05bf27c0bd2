"""A real moto S3 server over HTTP, for the S3 upstream tests.

Import the fixtures into a test module (`from tests.unit.upstream.s3.fixtures
import moto_endpoint, s3, bucket`). The server is moto's ThreadedMotoServer,
run in a child process rather than a thread of the test process: a thread
would share the GIL with the event loop under test and, worse, its
allocations would count in the tracemalloc measurements of bounded memory
(moto buffers whole objects). The child exits when its stdin closes, so it
cannot outlive the test run.

`RawServer` is a scripted HTTP server for what moto cannot do (faults,
keep-alive) and to see exactly what goes on the wire.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from s3gate.configbase import Secret
from s3gate.upstream.s3 import S3Upstream
from s3gate.upstream.settings import UpstreamSettings

_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # werkzeug logs every request
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = int(proc.stdout.readline())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def settings_for(endpoint: str, **overrides: object) -> UpstreamSettings:
    values: dict[str, object] = {
        "type": "s3",
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": Secret(value="testing"),
        "secret_access_key": Secret(value="testing"),
        "connect_timeout_seconds": 2.0,
        "read_timeout_seconds": 30.0,
        "pool_size": 8,
    }
    values.update(overrides)
    return UpstreamSettings.model_validate(values)


@pytest.fixture
async def s3(moto_endpoint: str) -> AsyncIterator[S3Upstream]:
    upstream = S3Upstream(settings_for(moto_endpoint))
    await upstream.start()
    try:
        yield upstream
    finally:
        await upstream.close()


@pytest.fixture
async def bucket(s3: S3Upstream) -> str:
    """A fresh bucket per test, so tests never see each other's keys."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    await s3.create_bucket(name)
    return name


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    complete: bool  # False when the client stopped short of Content-Length


# Answers a request by writing to the stream; returns False to close it.
Responder = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


def http_response(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} Status"]
    merged = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in merged.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class RawServer:
    """A scripted HTTP/1.1 server on a loopback port, recording every request.
    For faults moto cannot produce, and for seeing exactly what goes on the
    wire."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[RawRequest] = []
        self._server: asyncio.Server | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                first, *rest = head.decode("latin-1").split("\r\n")
                method, target, _ = first.split(" ", 2)
                headers = {}
                for line in rest:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                complete = True
                try:
                    body = await reader.readexactly(length)
                except asyncio.IncompleteReadError as exc:
                    body, complete = exc.partial, False
                request = RawRequest(method, target, headers, body, complete)
                self.requests.append(request)
                if not complete or not await self.respond(request, writer):
                    return
        finally:
            writer.close()


def raw_answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Responder:
    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(http_response(status, headers, body))
        await writer.drain()
        return True

    return respond
