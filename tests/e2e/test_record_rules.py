"""Record rules on the wire (docs/masking.md, "Record rules"): a boto3 writer
under the shipped `write-validated` profile, the gateway in front of moto's
S3 server, and the store read directly (never through the gateway).

- reject_record: the stored object lacks the record, its metadata and the
  audit event count it per rule, the write succeeds;
- block: 403 AccessDenied naming the rule, nothing stored;
- hold: held for approval (403 naming the hold), not in the key; approved,
  it is released without the rejected records.

Hostile first: every record a rule rejects carries a canary, and no object
anywhere in the bucket (internal prefixes included) may ever contain it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e.harness import (
    POLICIES,
    UPSTREAM_KEY,
    UPSTREAM_SECRET,
    Gateway,
    client_env,
    start_gateway,
)

BUCKET = "traces"
MiB = 1024 * 1024
PROFILE = "write-validated"
EXTRA_POLICIES = """
@id("e2e.validated-write")
@mask("write-validated")
permit (principal is Service in Group::"validated-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.validated-read")
@mask("write-validated")
permit (principal is Service in Group::"validated-writers", action in Action::"read", resource)
when { resource.bucket == "traces" };

@id("e2e.security-read")
@mask("analyst-view")
permit (principal is Service in Group::"security", action in Action::"read", resource)
when { resource.bucket == "traces" };
"""
IDENTITIES = {"writer": ("validated-writers",), "sec1": ("security",)}
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("records")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-records.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {
        "policy": {"dir": str(policies)},
        "approvals": {"sweep_seconds": 3600},
        "audit": {"batch_max_seconds": 0.5},
    }
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


@pytest.fixture
def key() -> str:
    return f"r{uuid.uuid4().hex[:10]}/run.jsonl"


def nowhere_in_the_store(direct: Any, needle: str) -> None:
    """No object of the bucket holds `needle`: not the target, not the
    quarantine, not staged parts (moto keeps nothing else)."""
    paginator = direct.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            body = direct.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            assert needle.encode() not in body, obj["Key"]


def absent(direct: Any, key: str) -> bool:
    try:
        direct.head_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


def put(gw: Gateway, key: str, body: bytes) -> dict[str, Any]:
    resp: dict[str, Any] = gw.client("writer").put_object(
        Bucket=BUCKET, Key=key, Body=body, ContentType="application/x-ndjson"
    )
    return resp


def audit_event(moto_endpoint: str, gw: Gateway, request_id: str) -> dict[str, Any]:
    """The request's completion event, read from the audit bucket once shipped."""
    replica = "gw-" + gw.endpoint.rsplit(":", 1)[1]
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
    for _ in range(20):
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "s3gate",
                "audit",
                "show",
                "--request-id",
                request_id,
                "--trust-bucket-keys",
                "--replica",
                replica,
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        events = [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]
        with_masking = [e for e in events if e.get("masking")]
        if with_masking:
            return with_masking[-1]
        time.sleep(1)
    raise AssertionError(f"no audit event with a masking summary for {request_id}")


def test_rejected_records_never_reach_the_store(
    gw: Gateway, direct: Any, moto_endpoint: str, key: str
) -> None:
    secret = canary()
    body = (
        '{"trace_id":"t-1","step":0,"user":"alice@example.com"}\n'
        f'{{"step":1,"note":"{secret}"}}\n'  # no trace_id: trace-shape
        '{"trace_id":"t-1","step":2}\n'
        f'{{"trace_id":"t-1","step":3,"tool":{{"debug_dump":"{secret}"}}}}\n'  # no-debug-dumps
        f"not json {secret}\n"  # breaks trace-shape (and the forbidden rules: see below)
    )
    # A line that is not JSON breaks every forbidden rule too, including the
    # `block` one: that object is refused whole (nothing stored) ...
    with pytest.raises(ClientError) as caught:
        put(gw, key, body.encode())
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert absent(direct, key)
    # ... and without it the write succeeds with the two records left out.
    body = "".join(body.splitlines(keepends=True)[:4])
    resp = put(gw, key, body.encode())
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    stored = direct.get_object(Bucket=BUCKET, Key=key)
    data = stored["Body"].read()
    lines = data.decode().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 2]
    assert b"alice@example.com" not in data and b"tok_" in data  # the kept ones are masked
    meta = stored["Metadata"]
    assert meta["s3gate-mask-profiles"] == PROFILE
    assert meta["s3gate-mask-rejected"] == (f"{PROFILE}:no-debug-dumps=1,{PROFILE}:trace-shape=1")
    assert meta["s3gate-mask-rejected-records"] == "2"
    nowhere_in_the_store(direct, secret)
    # The writer reads back what was stored (its read profile is the same).
    back = gw.client("writer").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert back == data
    event = audit_event(moto_endpoint, gw, resp["ResponseMetadata"]["RequestId"])
    assert event["masking"]["rejected"] == {
        f"{PROFILE}:no-debug-dumps": 1,
        f"{PROFILE}:trace-shape": 1,
    }
    assert event["masking"]["action"] == "rewrite"
    assert secret not in json.dumps(event)


def test_a_multipart_upload_loses_its_rejected_records_too(
    gw: Gateway, direct: Any, key: str
) -> None:
    secret = canary()
    records = []
    for i in range(60_000):
        if i % 1000 == 7:
            records.append(f'{{"step":{i},"note":"{secret}"}}')  # no trace_id
        else:
            records.append(f'{{"trace_id":"t-2","step":{i},"pad":"{"x" * 160}"}}')
    data = ("\n".join(records) + "\n").encode()
    assert len(data) > 10 * MiB
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    gw.client("writer").upload_fileobj(
        io.BytesIO(data),
        BUCKET,
        key,
        ExtraArgs={"ContentType": "application/x-ndjson"},
        Config=config,
    )
    stored = direct.get_object(Bucket=BUCKET, Key=key)
    body = stored["Body"].read()
    assert secret.encode() not in body
    assert body.count(b"\n") == 60_000 - 60
    assert stored["Metadata"]["s3gate-mask-rejected"] == f"{PROFILE}:trace-shape=60"
    nowhere_in_the_store(direct, secret)


def test_a_block_rule_refuses_the_object_and_stores_nothing(
    gw: Gateway, direct: Any, key: str
) -> None:
    secret = canary()
    body = f'{{"trace_id":"t-3","step":0}}\n{{"trace_id":"t-3","raw_prompt":"{secret}"}}\n'
    with pytest.raises(ClientError) as caught:
        put(gw, key, body.encode())
    resp = caught.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert resp["Error"]["Code"] == "AccessDenied"
    assert f"{PROFILE}:no-raw-prompts" in resp["Error"]["Message"]
    assert secret not in resp["Error"]["Message"]
    assert absent(direct, key)
    nowhere_in_the_store(direct, secret)


def test_a_hold_rule_holds_the_object_out_of_its_key(gw: Gateway, direct: Any, key: str) -> None:
    secret = canary()
    body = (
        f'{{"trace_id":"t-4","step":0,"log":"{PEM}"}}\n'  # key-material: hold
        f'{{"step":1,"note":"{secret}"}}\n'  # trace-shape: rejected
        '{"trace_id":"t-4","step":2,"msg":"all good"}\n'
    )
    with pytest.raises(ClientError) as caught:
        put(gw, key, body.encode())
    resp = caught.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Held for approval" in resp["Error"]["Message"]
    hold_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-s3gate-hold-id"]
    assert absent(direct, key)
    quarantined = direct.list_objects_v2(Bucket=BUCKET, Prefix=f".s3gate/approvals/{hold_id}/")
    assert quarantined.get("KeyCount", 0) == 3
    nowhere_in_the_store(direct, secret)
    nowhere_in_the_store(direct, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")

    shown = approvals(gw, "sec1", "show", hold_id)
    assert shown.returncode == 0, shown.stderr
    assert f"masking:{PROFILE}:key-material" in shown.stdout
    assert f"rejected   {PROFILE}:trace-shape=1" in shown.stdout
    assert secret not in shown.stdout
    approved = approvals(gw, "sec1", "approve", hold_id, "--reason", "test key, revoked")
    assert approved.returncode == 0, approved.stderr
    stored = direct.get_object(Bucket=BUCKET, Key=key)
    released = stored["Body"].read()
    # The stamp still counts what was left out before quarantine.
    assert stored["Metadata"]["s3gate-mask-rejected"] == f"{PROFILE}:trace-shape=1"
    assert stored["Metadata"]["s3gate-mask-rejected-records"] == "1"
    # Released without the rejected record, the key redacted.
    assert [json.loads(line)["step"] for line in released.decode().splitlines()] == [0, 2]
    assert b"[REDACTED:PRIVATE_KEY]" in released
    nowhere_in_the_store(direct, secret)


def approvals(gw: Gateway, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "s3gate", "approvals", *args],
        env=gw.env(who),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
