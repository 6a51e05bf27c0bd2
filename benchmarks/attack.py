"""`attack`: what unauthenticated clients cost the gateway (DESIGN invariant 8).

One gateway (default settings, local store), probed with sequential
`GET /_s3gate/healthz` on a kept-alive connection for a few seconds:

- with no attack (the baseline, same run);
- while one client sends a request with 60,000 repeated 100-byte headers, again
  and again;
- while 30 clients trickle their request heads (one byte every 100 ms), each
  reconnecting when the gateway drops it; and the same with 150 clients;
- while 30 clients each send 16 MiB headers, again and again.

Figures: healthz p50/p99 (ms) per phase, the gateway's RSS growth over its
pre-phase value (peak, MiB), and how many attack requests were answered.
Targets: p99 < 50 ms, RSS growth < 64 MiB. The attackers run in another
process, so that their threads do not share the probe's GIL; everything is on
loopback, and every loop is bounded by the phase's duration.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import statistics
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from benchmarks.servers import Server, start_gateway

PHASE_SECONDS = 4.0
# (the attacking process or None, its stop event, its count of answers)
Started = tuple[Any, Event, Any]
MiB = 1024 * 1024
_PROBE = b"GET /_s3gate/healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"


def _head(*headers: bytes) -> bytes:
    return b"GET /bench/k HTTP/1.1\r\nhost: 127.0.0.1\r\n" + b"".join(headers) + b"\r\n"


def _send_and_read(port: int, data: bytes, stop: Event, pause: float = 0.0) -> bool:
    """One attack request: send (in pieces), read the answer. True if the
    gateway answered with an HTTP status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        got = bytearray()

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    got.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        piece = 1 if pause else 65536
        view = memoryview(data)  # slices without copies: the attacker's CPU is the probe's too
        try:
            for i in range(0, len(data), piece):
                if stop.is_set() or not reader.is_alive():
                    break
                sock.sendall(view[i : i + piece])
                if pause:
                    time.sleep(pause)
        except OSError:
            pass
        if stop.is_set():  # the phase is over: do not wait for the gateway
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        reader.join(15)
        return got.startswith(b"HTTP/1.1 ")


def _attacker(kind: str, port: int, clients: int, stop: Event, answered: Any) -> None:
    if kind == "headers60k":
        data, pause = _head(*[b"x-amz-meta-a: " + b"v" * 84 + b"\r\n"] * 60_000), 0.0
    elif kind == "huge":
        data, pause = _head(b"x-big: " + b"v" * 16 * MiB + b"\r\n"), 0.0
    else:  # slow
        data, pause = _head(b"user-agent: " + b"x" * 2000 + b"\r\n"), 0.1

    def loop() -> None:
        while not stop.is_set():
            if _send_and_read(port, data, stop, pause):
                with answered.get_lock():
                    answered.value += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _probe(port: int, seconds: float, pid: int) -> tuple[list[float], int]:
    """healthz latencies (s) over one kept-alive connection, and the peak RSS
    seen meanwhile."""
    latencies: list[float] = []
    peak = _rss(pid)
    deadline = time.monotonic() + seconds
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            sock.sendall(_PROBE)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("healthz connection closed")
                answer += chunk
            latencies.append(time.perf_counter() - started)
            peak = max(peak, _rss(pid))
            time.sleep(0.005)
    finally:
        sock.close()
    return latencies, peak


def _phase(server: Server, name: str, start: Callable[[], Started]) -> dict[str, float]:
    port = int(server.endpoint.rsplit(":", 1)[1])
    pid = server.proc.pid
    time.sleep(1.5)  # connections of the previous phase are gone
    before = _rss(pid)
    proc, stop, answered = start()
    time.sleep(0.5)  # the attack is under way
    latencies, peak = _probe(port, PHASE_SECONDS, pid)
    stop.set()
    if proc is not None:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        f"{name}_healthz_p50_ms": statistics.median(ordered) * 1000,
        f"{name}_healthz_p99_ms": p99 * 1000,
        f"{name}_rss_growth_mib": max(0, peak - before) / MiB,
        f"{name}_attacks_answered": float(answered.value),
    }


def run_sync(workdir: Path) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    server = start_gateway(
        workdir, None, {"upstream": {"type": "local", "path": str(workdir / "s")}}
    )
    port = int(server.endpoint.rsplit(":", 1)[1])
    results: dict[str, float] = {}

    def none() -> Started:
        return None, ctx.Event(), ctx.Value("i", 0)

    def attack(kind: str, clients: int) -> Callable[[], Started]:
        def start() -> Started:
            stop, answered = ctx.Event(), ctx.Value("i", 0)
            proc = ctx.Process(target=_attacker, args=(kind, port, clients, stop, answered))
            proc.start()
            return proc, stop, answered

        return start

    try:
        results.update(_phase(server, "baseline", none))
        results.update(_phase(server, "headers60k_x1", attack("headers60k", 1)))
        results.update(_phase(server, "slow_x30", attack("slow", 30)))
        results.update(_phase(server, "slow_x150", attack("slow", 150)))
        results.update(_phase(server, "huge16mib_x30", attack("huge", 30)))
        results["gateway_rss_mib_end"] = _rss(server.proc.pid) / MiB
    finally:
        server.stop()
    return results


async def run(workdir: Path) -> dict[str, float]:
    return run_sync(workdir)
