"""`s3gate dev` for the approvals web page tests, started as a developer starts
it (`python -m s3gate dev --data-dir … --host … --port …`): the dev issuer's
code flow (`/_s3gate/dev-oidc/authorize`, `/token`) exists only there, never
under `s3gate serve`.

Two things differ from a developer's run, both through the `S3GATE_…`
environment, which beats dev mode's own settings (config.py):
- the store is moto's S3 server instead of the local directory store, so a
  test reads what was (or was not) stored straight from the store, as every
  other end-to-end test does;
- the policy folder is the test's copy (extra policies, approval rules), and
  the audit chain is named `dev-<port>` so it never meets another gateway's.

The port is picked before the start and passed: the page's redirect URL and
the dev issuer's registered redirect URI are derived from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from s3gate import devmode
from tests.e2e.harness import REGION, UPSTREAM_KEY, UPSTREAM_SECRET, free_port, wait_http

HOST = "127.0.0.1"
PAGE = "/_s3gate/approvals"


@dataclass
class DevGateway:
    endpoint: str  # http://127.0.0.1:<port>
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    replica: str  # the audit chain's replica id

    @property
    def page(self) -> str:
        return self.endpoint + PAGE

    def admin(self) -> Any:
        """boto3 with the dev key (`dev-admin`, group admins)."""
        key = devmode.dev_key(self.data_dir)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def token(self, sub: str, groups: str, *claims: str) -> str:
        """`s3gate dev token`, as the banner tells a developer to run it."""
        command = [sys.executable, "-m", "s3gate", "dev", "token", "--data-dir", str(self.data_dir)]
        done = subprocess.run(
            [*command, "--sub", sub, "--groups", groups, *(f"--claim={c}" for c in claims)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_dev_gateway(workdir: Path, upstream_endpoint: str, policies: Path) -> DevGateway:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = workdir / "data"
    replica = f"dev-{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3GATE_"))}
    env.update(
        {
            # Where `s3gate dev` records the running gateway (for `dev env`).
            "XDG_STATE_HOME": str(workdir / "state"),
            "S3GATE_UPSTREAM__TYPE": "s3",
            "S3GATE_UPSTREAM__ENDPOINT_URL": upstream_endpoint,
            "S3GATE_UPSTREAM__ACCESS_KEY_ID": json.dumps({"value": UPSTREAM_KEY}),
            "S3GATE_UPSTREAM__SECRET_ACCESS_KEY": json.dumps({"value": UPSTREAM_SECRET}),
            "S3GATE_POLICY__DIR": str(policies),
            "S3GATE_AUDIT__REPLICA_ID": replica,
            "S3GATE_AUDIT__BATCH_MAX_SECONDS": "0.5",
            "S3GATE_APPROVALS__SWEEP_SECONDS": "3600",
            # One masking worker, as every e2e gateway (harness.py).
            "S3GATE_MASKING__WORKERS": "1",
        }
    )
    log_path = workdir / "s3gate-dev.log"
    command = [sys.executable, "-m", "s3gate", "dev", "--data-dir", str(data_dir)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_http(f"{endpoint}/_s3gate/healthz", proc=proc, timeout=30)
    except Exception:
        proc.kill()
        raise RuntimeError(f"s3gate dev did not start:\n{log_path.read_text()}") from None
    return DevGateway(endpoint, data_dir, log_path, proc, replica)
