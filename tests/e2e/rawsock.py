"""Raw TCP for request-limit tests: bytes no HTTP library would send (60,000
headers, a 16 MiB header, a head trickled byte by byte), and the answer read
back as the gateway wrote it."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection closed without an answer
    headers: dict[str, str]
    body: bytes
    seconds: float

    def code(self) -> str | None:
        start, end = self.body.find(b"<Code>"), self.body.find(b"</Code>")
        return self.body[start + 6 : end].decode() if start >= 0 and end > start else None


def parse(raw: bytes, seconds: float) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        return Answer(None, {}, raw, seconds)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(lines[0].split()[1]), headers, body, seconds)


def exchange(
    port: int,
    data: bytes,
    *,
    piece: int = 65536,
    pause: float = 0.0,
    timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """Send `data` (in pieces, `pause` seconds apart) while reading, until
    the gateway closes. Sending stops when the gateway stops reading (it
    refused), as a real client's would."""
    started = time.monotonic()
    received = bytearray()
    plain = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with tls.wrap_socket(plain, server_hostname="127.0.0.1") if tls else plain as sock:

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    received.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            for i in range(0, len(data), piece):
                if not reader.is_alive():
                    break
                sock.sendall(data[i : i + piece])
                if pause:
                    time.sleep(pause)
        except OSError:  # reset, broken pipe, or the gateway stopped reading
            pass
        reader.join(timeout)
    return parse(bytes(received), time.monotonic() - started)


def request_head(
    *headers: tuple[str, str], path: str = "/bucket/key", method: str = "GET"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_connections(pid: int) -> int:
    """TCP sockets the process holds (its listening socket included)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if fd.readlink().name.startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count
