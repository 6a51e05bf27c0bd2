"""What the approvals web page tests share: the test copy of the policies,
an agent that writes a held trace through STS with boto3, and looks straight
into the store (moto) for the target key and the quarantine.

Policies (added to a copy of policies/):
  e2e.web-strict-write  trace-writer sessions also write through write-strict,
                        whose `internal_projects` detector holds "Project Nightjar"
  e2e.web-security-read the security group reads traces through analyst-view
                        (the approver's own read view: the preview)
The repo's approvals.yaml decides: 1 approval by group security, no self-approval.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.devgateway import DevGateway
from tests.e2e.harness import POLICIES, UPSTREAM_KEY, UPSTREAM_SECRET, client_env
from tests.e2e.sts import WRITER_ROLE, assume, s3_client

BUCKET = "traces"
AGENT = "agent-1"
EXTRA_POLICIES = """
@id("e2e.web-strict-write")
@mask("write-strict")
permit (principal in Role::"trace-writer", action in Action::"write", resource is Object)
when {
  resource.bucket == "traces" &&
  principal.hasTag("team") && resource has dir1 && resource.dir1 == principal.getTag("team")
};

@id("e2e.web-security-read")
@mask("analyst-view")
permit (principal in Group::"security", action in Action::"read", resource)
when { resource.bucket == "traces" };
"""
# The customer number is the canary: the write profiles keep it (it is in the
# quarantine and, once released, in the key), the approver's read view
# (analyst-view) tokenizes it, so the preview must never show it.
CANARY = "CUST-0042917"
EMAIL = "alice@example.com"
HELD_TRACE = (
    b'{"msg":"Project Nightjar ships friday","user":"alice@example.com",'
    b'"customer_id":"CUST-0042917"}\n'
    b'{"msg":"all good","step":2}\n'
)


def policy_copy(folder: Path) -> Path:
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-web.cedar").write_text(EXTRA_POLICIES)
    return policies


def ensure_bucket(direct: Any) -> None:
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def new_key() -> str:
    return f"alpha/web-{uuid.uuid4().hex[:10]}.jsonl"


def held_put(gw: DevGateway, key: str, sub: str = AGENT) -> str:
    """The agent (a trace-writer session through the gateway's STS) writes a
    trace the gateway holds: returns the hold id."""
    creds = assume(gw.endpoint, WRITER_ROLE, gw.token(sub, "trace-writers", "team=alpha"))
    with pytest.raises(ClientError) as caught:
        s3_client(gw.endpoint, creds).put_object(
            Bucket=BUCKET, Key=key, Body=HELD_TRACE, ContentType="application/x-ndjson"
        )
    resp = caught.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403, resp
    assert "Held for approval" in resp["Error"]["Message"]
    hold_id: str = resp["ResponseMetadata"]["HTTPHeaders"]["x-s3gate-hold-id"]
    return hold_id


def quarantine(direct: Any, hold_id: str) -> list[str]:
    page = direct.list_objects_v2(Bucket=BUCKET, Prefix=f".s3gate/approvals/{hold_id}/")
    return sorted(o["Key"].rsplit("/", 1)[1] for o in page.get("Contents", []))


def stored(direct: Any, key: str) -> bytes | None:
    """The target object's bytes in the store, or None if there is none."""
    try:
        body: bytes = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return None
        raise
    return body


def still_held(direct: Any, hold_id: str, key: str) -> bool:
    """Nothing released: the whole quarantine is there and the key is not."""
    return quarantine(direct, hold_id) == ["content", "request", "state"] and (
        stored(direct, key) is None
    )


def audit_history(
    moto_endpoint: str, gw: DevGateway, hold_id: str, want: int
) -> list[dict[str, Any]]:
    """`s3gate audit show --approval ID` straight from the store, until it
    shows `want` events (shipping runs a moment behind)."""
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
    command = [sys.executable, "-m", "s3gate", "audit", "show", "--approval", hold_id]
    command += ["--trust-bucket-keys", "--replica", gw.replica, "--json"]
    events: list[dict[str, Any]] = []
    for _ in range(15):
        shown = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        events = [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]
        if len(events) >= want:
            return events
        time.sleep(1)
    return events
