"""A lean asynchronous S3 load client: aiohttp + botocore's SigV4 signer.

Lean so that the figures measure the servers, not boto3's per-call overhead;
the same client drives the store directly and through the gateway.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import aiohttp
import psutil
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.servers import Server

MiB = 1024 * 1024
UNSIGNED = "UNSIGNED-PAYLOAD"


class _Auth(S3SigV4Auth):
    payload_hash = UNSIGNED

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


class S3Client:
    def __init__(
        self,
        server: Server,
        session: aiohttp.ClientSession,
        credentials: Credentials | None = None,
    ) -> None:
        self.server = server
        self.session = session
        creds = credentials or Credentials(server.access_key, server.secret_key)
        self._auth = _Auth(creds, "s3", "us-east-1")

    def _headers(
        self, method: str, url: str, payload_hash: str, extra: dict[str, str]
    ) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers=extra)
        self._auth.payload_hash = payload_hash
        self._auth.add_auth(request)
        return dict(request.headers.items())

    def url(self, bucket: str, key: str = "") -> str:
        return f"{self.server.endpoint}/{bucket}" + (f"/{quote(key, safe='/~')}" if key else "")

    async def create_bucket(self, bucket: str) -> None:
        url = self.url(bucket)
        async with self.session.put(
            url, headers=self._headers("PUT", url, hashlib.sha256(b"").hexdigest(), {})
        ) as r:
            if r.status not in (200, 409):
                raise RuntimeError(f"create bucket: {r.status} {await r.text()}")

    async def put(
        self, bucket: str, key: str, body: bytes | AsyncIterator[bytes], length: int
    ) -> None:
        url = self.url(bucket, key)
        digest = hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else UNSIGNED
        headers = self._headers("PUT", url, digest, {"Content-Length": str(length)})
        async with self.session.put(url, data=body, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"PUT {key}: {r.status} {await r.text()}")

    async def get(self, bucket: str, key: str) -> int:
        url = self.url(bucket, key)
        headers = self._headers("GET", url, hashlib.sha256(b"").hexdigest(), {})
        total = 0
        async with self.session.get(url, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"GET {key}: {r.status} {await r.text()}")
            async for chunk in r.content.iter_chunked(1 << 20):
                total += len(chunk)
        return total


def session(concurrency: int = 32) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=300),
        skip_auto_headers=["Content-Type"],
    )


async def pattern(length: int, piece: int = MiB) -> AsyncIterator[bytes]:
    """`length` bytes without holding them: one random-looking piece, repeated."""
    block = hashlib.sha256(b"s3gate").digest() * (piece // 32)
    sent = 0
    while sent < length:
        n = min(piece, length - sent)
        yield block[:n]
        sent += n


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def ops_per_second(
    op: Callable[[int], Awaitable[object]], total: int, concurrency: int
) -> float:
    queue = iter(range(total))
    lock = asyncio.Lock()

    async def worker() -> None:
        while True:
            async with lock:
                i = next(queue, None)
            if i is None:
                return
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start)


def median(values: list[float]) -> float:
    return statistics.median(values)


class PeakRss:
    """Samples a process's resident set size in a thread; `peak` in bytes."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self.peak = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
