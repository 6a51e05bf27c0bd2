"""The thinnest relay possible, as a bound for any proxy on this machine.

A TCP forwarder that moves bytes between client and store with the kernel's
splice(2): no user-space copies, no parsing, no Python per byte. Whatever it
loses against a direct connection is the cost of the extra hop itself (one
more socket pair, one more process to schedule); a gateway cannot do better.

Run as `python -m benchmarks.relay LISTEN_PORT UPSTREAM_PORT` (Linux only).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

PIPE_CHUNK = 1 << 20


def _pump(src: socket.socket, dst: socket.socket) -> None:
    read_end, write_end = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), write_end, PIPE_CHUNK)
            if n == 0:
                break
            while n:
                n -= os.splice(read_end, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(read_end)
        os.close(write_end)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def serve(port: int, upstream_port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        store = socket.create_connection(("127.0.0.1", upstream_port))
        for src, dst in ((client, store), (store, client)):
            threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
