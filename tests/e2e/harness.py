"""Real servers for end-to-end tests: moto's S3 server and s3gate processes.

Every server listens on a free loopback port; s3gate runs as its own process
(`python -m s3gate serve --config …`) exactly as an operator would start it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import urllib3
import yaml
from botocore.config import Config

REGION = "us-east-1"
POLICIES = Path(__file__).resolve().parents[2] / "policies"
UPSTREAM_KEY = "upstream-test-key"
UPSTREAM_SECRET = "upstream-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str,
    timeout: float = 20.0,
    proc: subprocess.Popen[bytes] | None = None,
    ca_file: str | None = None,
) -> None:
    http = urllib3.PoolManager(ca_certs=ca_file) if ca_file else urllib3.PoolManager()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if http.request("GET", url, timeout=1.0, retries=False).status < 500:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def new_access_key() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16)), secrets.token_urlsafe(30)


@dataclass
class Identity:
    name: str
    access_key_id: str
    secret_access_key: str
    groups: tuple[str, ...] = ()


@dataclass
class Gateway:
    """A running s3gate process."""

    endpoint: str
    config_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    identities: dict[str, Identity] = field(default_factory=dict)
    ca_file: str | None = None  # set when the gateway serves HTTPS

    def client(self, identity: str = "admin", **config: Any) -> Any:
        who = self.identities[identity]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=who.access_key_id,
            aws_secret_access_key=who.secret_access_key,
            region_name=REGION,
            verify=self.ca_file if self.ca_file else None,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
        )

    def env(self, identity: str = "admin") -> dict[str, str]:
        """Environment for the aws CLI, rclone and friends."""
        who = self.identities[identity]
        env = client_env(self.endpoint, who.access_key_id, who.secret_access_key)
        if self.ca_file:
            env["AWS_CA_BUNDLE"] = self.ca_file
        return env

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self, identity: str = "admin") -> tuple[int, dict[str, Any]]:
        """`/_s3gate/status` (the details readyz keeps to itself), signed
        with SigV4 as `identity`. Returns the HTTP status and the JSON body
        (an S3 error document comes back as {"error": its XML})."""
        import hashlib
        import json

        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        who = self.identities[identity]
        request = AWSRequest(method="GET", url=f"{self.endpoint}/_s3gate/status")
        request.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
        creds = Credentials(who.access_key_id, who.secret_access_key)
        S3SigV4Auth(creds, "s3", REGION).add_auth(request)
        http = urllib3.PoolManager(ca_certs=self.ca_file) if self.ca_file else urllib3.PoolManager()
        resp = http.request(
            "GET", request.url, headers=dict(request.headers.items()), retries=False
        )
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.status, json.loads(resp.data)
        return resp.status, {"error": resp.data.decode(errors="replace")}

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def client_env(endpoint: str, key_id: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def start_gateway(
    workdir: Path,
    upstream_endpoint: str,
    identities: Mapping[str, tuple[str, ...]],
    extra: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Gateway:
    """Start `s3gate serve` with static keys for `identities` (name → groups)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    who: dict[str, Identity] = {}
    keys = []
    for name, groups in identities.items():
        key_id, secret = new_access_key()
        secret_file = workdir / f"{name}.secret"
        secret_file.write_text(secret)
        who[name] = Identity(name, key_id, secret, tuple(groups))
        keys.append(
            {
                "access_key_id": key_id,
                "secret_access_key": {"file": str(secret_file)},
                "principal": {"name": name, "groups": list(groups)},
            }
        )
    settings: dict[str, Any] = {
        "data_dir": str(workdir / "data"),
        "server": {"host": "127.0.0.1", "port": port},
        "upstream": {
            "type": "s3",
            "endpoint_url": upstream_endpoint,
            "region": REGION,
            "access_key_id": {"value": UPSTREAM_KEY},
            "secret_access_key": {"value": UPSTREAM_SECRET},
        },
        "static_keys": keys,
        "policy": {"dir": str(POLICIES)},
        # Each process its own chain (replica id) in the shared audit bucket.
        "audit": {"generate_key": True, "replica_id": f"gw-{port}"},
        # The e2e gateways mask inline: the suite starts dozens of gateways on
        # a 2-core CI box, and worker processes cost each one a start-up and
        # every masked request a round trip (about 13% of the masking files'
        # time). The pool's own e2e tests (test_masking_pool.py) ask for
        # workers through `extra`; its output is checked equal to inline in
        # tests/unit/masking/test_pool.py.
        "masking": {"workers": 0},
    }
    if tls is not None:
        settings["server"]["tls"] = {"cert_file": str(tls[0]), "key_file": str(tls[1])}
    for section, values in (extra or {}).items():
        if isinstance(values, dict):
            settings.setdefault(section, {}).update(values)
        else:
            settings[section] = values
    config_path = workdir / "s3gate.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    log_path = workdir / "s3gate.log"
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3GATE_"))}
    proc_env.update(env or {})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "s3gate", "serve", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=proc_env,
        )
    scheme = "https" if tls else "http"
    endpoint = f"{scheme}://127.0.0.1:{port}"
    ca_file = str(tls[0]) if tls else None
    try:
        wait_http(f"{endpoint}/_s3gate/healthz", proc=proc, ca_file=ca_file)
    except Exception:
        proc.kill()
        raise RuntimeError(f"s3gate did not start:\n{log_path.read_text()}") from None
    return Gateway(endpoint, config_path, log_path, proc, who, ca_file=ca_file)


def direct_client(endpoint: str) -> Any:
    """A client straight to the upstream store, bypassing the gateway."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=UPSTREAM_KEY,
        aws_secret_access_key=UPSTREAM_SECRET,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}),
    )
