"""Processes a benchmark run needs: moto's S3 server and an s3gate gateway.

Each runs in its own process (as in production), on a free loopback port, so
the client, the gateway and the store do not share one interpreter's GIL.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml

UPSTREAM_KEY, UPSTREAM_SECRET = "bench-upstream", "bench-upstream-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 30, log: Path | None = None
) -> None:
    http = urllib3.PoolManager()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            # The server's own words say why it stopped; the exit code alone does not.
            tail = log.read_bytes()[-2000:].decode(errors="replace") if log else ""
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}\n{tail}")
        try:
            http.request("GET", url, timeout=1.0, retries=False)
            return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


@dataclass
class Server:
    endpoint: str
    proc: subprocess.Popen[bytes]
    access_key: str
    secret_key: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_moto(workdir: Path) -> Server:
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/", proc)
    return Server(endpoint, proc, UPSTREAM_KEY, UPSTREAM_SECRET)


def start_relay(workdir: Path, upstream: Server) -> Server:
    """`benchmarks.relay` (a splice(2) forwarder) in front of `upstream`: the
    bound for any proxy on this machine."""
    port = free_port()
    upstream_port = upstream.endpoint.rsplit(":", 1)[1]
    log = (workdir / "relay.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.relay", str(port), upstream_port],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/", proc)
    return Server(endpoint, proc, upstream.access_key, upstream.secret_key)


def start_gateway(
    workdir: Path,
    upstream: Server | None,
    extra: dict[str, Any] | None = None,
    groups: tuple[str, ...] = ("admins",),
) -> Server:
    """A gateway in front of `upstream` (or of what `extra["upstream"]` says)."""
    port = free_port()
    key_id = "AKIABENCH" + secrets.token_hex(6).upper()
    secret = secrets.token_urlsafe(30)
    settings: dict[str, Any] = {
        "data_dir": str(workdir / "gateway-data"),
        "server": {"host": "127.0.0.1", "port": port, "access_log": False},
        "upstream": {}
        if upstream is None
        else {
            "type": "s3",
            "endpoint_url": upstream.endpoint,
            "access_key_id": {"value": upstream.access_key},
            "secret_access_key": {"value": upstream.secret_key},
            # The gateway refuses to start without its audit bucket.
            "create_buckets": ["audit"],
        },
        "static_keys": [
            {
                "access_key_id": key_id,
                "secret_access_key": {"value": secret},
                "principal": {"name": "bench", "groups": list(groups)},
            }
        ],
        "log_level": "warning",
        "audit": {"generate_key": True, "replica_id": f"bench-{port}"},
    }
    for section, values in (extra or {}).items():
        if isinstance(values, dict):
            settings.setdefault(section, {}).update(values)
        else:
            settings[section] = values
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"s3gate-{port}.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3GATE_"))}
    log_path = workdir / f"s3gate-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3gate", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/_s3gate/healthz", proc, log=log_path)
    return Server(endpoint, proc, key_id, secret)
