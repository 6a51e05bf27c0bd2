"""Break-glass reads end to end: an SRE's break-glass session (STS, dev-style
OIDC issuer) reads nothing raw until security approves a grant it requested
with `s3gate approvals request`; then raw reads under the prefix work, each
one audited with the grant's id, until the grant is revoked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import (
    POLICIES,
    UPSTREAM_KEY,
    UPSTREAM_SECRET,
    Gateway,
    client_env,
    start_gateway,
)
from tests.e2e.oidc_issuer import Issuer, issuer_config, make_key
from tests.e2e.sts import (
    ACCOUNT,
    REPO_ROLES,
    SessionCreds,
    assume,
    identity_section,
    new_session_keys,
    s3_client,
    session_env,
)

BUCKET = "traces"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
RAW = b'{"user":"alice@example.com","msg":"the raw truth"}\n'


@pytest.fixture(scope="module")
def setup(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Issuer, Path]]:
    workdir = tmp_path_factory.mktemp("break-glass")
    issuer = Issuer([make_key("RS256", "k1")])
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    identity = identity_section(
        [issuer_config("dev", issuer.url)], new_session_keys("s1"), "s1", REPO_ROLES
    )
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {
        "identity": identity,
        "policy": {"dir": str(policies)},
        "audit": {"batch_max_seconds": 0.5},
    }
    gw = start_gateway(workdir / "gw", moto_endpoint, {"sec1": ("security",)}, extra=extra)
    try:
        yield gw, issuer, workdir
    finally:
        gw.stop()
        issuer.stop()


def approvals(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "s3gate", "approvals", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def denied(client: Any, key: str) -> bool:
    try:
        client.get_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "AccessDenied"
    return False


def test_break_glass_grant_raw_read_revoke(
    setup: tuple[Gateway, Issuer, Path], direct: Any, moto_endpoint: str
) -> None:
    gw, issuer, workdir = setup
    run = uuid.uuid4().hex[:8]
    inside, outside = f"alpha/{run}/trace.jsonl", f"beta/{run}/trace.jsonl"
    for key in (inside, outside):
        direct.put_object(Bucket=BUCKET, Key=key, Body=RAW)
    creds: SessionCreds = assume(gw.endpoint, BREAK_GLASS, issuer.token(sub="rita", groups=["sre"]))
    rita = s3_client(gw.endpoint, creds)
    rita_env = session_env(gw.endpoint, creds, workdir)
    sec_env = gw.env("sec1")

    assert denied(rita, inside)  # the role alone reads nothing raw
    asked = approvals(
        rita_env, "request", "--role", "break-glass", "--bucket", BUCKET,
        "--prefix", f"alpha/{run}/", "--reason", "INC-42 root cause", "--duration", "30m",
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    found = re.search(r"requested ([0-9a-f]{24})", asked.stdout)
    assert found is not None, asked.stdout
    grant_id = found.group(1)
    assert denied(rita, inside)  # not before the approval
    # The requester cannot approve its own request (nor is it an approver).
    assert approvals(rita_env, "approve", grant_id, "--reason", "me").returncode == 1

    shown = approvals(sec_env, "show", grant_id)
    assert shown.returncode == 0, shown.stderr
    assert "rita" in shown.stdout and "INC-42 root cause" in shown.stdout
    assert f"alpha/{run}/*" in shown.stdout and "1800 s" in shown.stdout
    approved = approvals(sec_env, "approve", grant_id, "--reason", "incident open")
    assert approved.returncode == 0 and "granted" in approved.stdout, approved.stderr

    body = rita.get_object(Bucket=BUCKET, Key=inside)["Body"].read()
    assert body == RAW  # raw, unmasked: that is what break-glass is for
    assert rita.head_object(Bucket=BUCKET, Key=inside)["ContentLength"] == len(RAW)
    assert denied(rita, outside)  # only under the granted prefix

    revoked = approvals(sec_env, "revoke", grant_id, "--reason", "incident closed")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    assert denied(rita, inside)
    assert direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/grants/").get("KeyCount") == 0

    # The whole history, with each grant-based read naming the grant.
    replica = "gw-" + gw.endpoint.rsplit(":", 1)[1]
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
    kinds: list[str] = []
    for _ in range(10):
        shown = subprocess.run(
            [sys.executable, "-m", "s3gate", "audit", "show", "--approval", grant_id,
             "--trust-bucket-keys", "--replica", replica, "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        events = [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]
        kinds = [e["type"] for e in events]
        if "approval.destroyed" in kinds:
            break
        time.sleep(1)
    assert kinds == [
        "approval.requested",
        "approval.viewed",
        "approval.viewed",
        "approval.approved",
        "approval.granted",
        "approval.read",
        "approval.read",
        "approval.revoked",
        "approval.destroyed",
    ]
    reads = [e for e in events if e["type"] == "approval.read"]
    assert {e["details"]["read_key"] for e in reads} == {inside}
    assert all(e["principal"]["subject"] == "rita" for e in reads)
