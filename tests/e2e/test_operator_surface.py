"""What operators and newcomers see: denials that say why (and the audit
event behind them), access-log lines for early refusals, public readiness
that is a status only, the signed status endpoint, a missing audit bucket
refused at start-up, and the documented complete example starting as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.conftest import IDENTITIES
from tests.e2e.harness import (
    POLICIES,
    REGION,
    UPSTREAM_KEY,
    UPSTREAM_SECRET,
    Gateway,
    client_env,
    free_port,
    start_gateway,
    wait_http,
)
from tests.e2e.test_audit import keys as keys  # the module-scoped fixture, re-exported
from tests.e2e.test_audit import shipped_events, wait_shipped
from tests.unit.test_config_load import complete_example

S3GATE = [sys.executable, "-m", "s3gate"]


def _refused(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response: dict[str, Any] = exc.value.response
    return response


def test_denials_say_why_with_the_request_id_and_never_a_policy(
    gateway: Gateway, bucket: str
) -> None:
    admin, writer = gateway.client("admin"), gateway.client("writer")
    guard = _refused(admin.put_object, Bucket="audit", Key="forged.json", Body=b"{}")
    request_id = guard["ResponseMetadata"]["RequestId"]
    message = guard["Error"]["Message"]
    assert guard["Error"]["Code"] == "AccessDenied"
    assert "built-in guard" in message and "audit bucket is read-only" in message
    assert f"request id {request_id}" in message
    assert "builtin:" not in message  # policy ids stay in the audit trail
    # A static writer key has no role: no policy allows it to read anything.
    nothing = _refused(writer.get_object, Bucket=bucket, Key="x.jsonl")
    assert "no access policy allows GetObject" in nothing["Error"]["Message"]
    assert nothing["ResponseMetadata"]["RequestId"] in nothing["Error"]["Message"]


def test_the_audit_event_of_a_denial_names_the_determining_policies(
    moto_endpoint: str,
    keys: Path,
    tmp_path: Path,
) -> None:
    replica = f"deny-{uuid.uuid4().hex[:8]}"
    signing = sorted(str(p) for p in keys.glob("*.private.pem"))
    gw = start_gateway(
        tmp_path / "gw",
        moto_endpoint,
        IDENTITIES,
        extra={"audit": {"signing_keys": signing, "replica_id": replica, "batch_max_seconds": 0.3}},
    )
    try:
        refused = _refused(gw.client("admin").put_object, Bucket="audit", Key="f", Body=b"x")
        request_id = refused["ResponseMetadata"]["RequestId"]
        assert request_id in wait_shipped(moto_endpoint, keys, replica, {request_id})
        events = [e for e in shipped_events(moto_endpoint, keys, replica)]
        event = next(e for e in events if e.get("request_id") == request_id)
        assert event["decision"] == "deny"
        assert event["policy_ids"] == ["builtin:audit-bucket-readonly"]
        shown = subprocess.run(
            [
                *S3GATE,
                "audit",
                "show",
                "--audit-bucket",
                "audit",
                "--trusted-keys",
                str(keys),
                "--replica",
                replica,
                "--request-id",
                request_id,
            ],
            env=client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "policies=builtin:audit-bucket-readonly" in shown.stdout
        assert f"req={request_id}" in shown.stdout
    finally:
        gw.stop()


def _log_lines(gw: Gateway, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        found = [
            json.loads(line)
            for line in gw.log().splitlines()
            if line.startswith("{") and request_id in line
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("method", "path", "code", "operation", "key"),
    [
        ("GET", "/{bucket}/a/b.jsonl?torrent", "NotImplemented", "GetObject?torrent", "a/b.jsonl"),
        ("PUT", "/{bucket}/k?torrent", "NotImplemented", "PutObject?torrent", "k"),
        ("GET", "/{bucket}/a/b.jsonl", "InvalidAccessKeyId", "GetObject", "a/b.jsonl"),
    ],
)
def test_early_refusals_are_logged_with_operation_bucket_and_key(
    gateway: Gateway, bucket: str, method: str, path: str, code: str, operation: str, key: str
) -> None:
    request = rawhttp.sign(gateway, method, path.format(bucket=bucket))
    if code == "InvalidAccessKeyId":
        auth = request.headers["Authorization"]
        request.headers["Authorization"] = re.sub(
            r"Credential=[A-Z0-9]+", "Credential=AKIANOBODY", auth
        )
    resp = rawhttp.send(request)
    assert resp.status in (403, 501) and code.encode() in resp.data
    request_id = resp.headers["x-amz-request-id"]
    (line,) = _log_lines(gateway, request_id)
    assert line["error"] == code
    assert (line["operation"], line["bucket"], line["key"]) == (operation, bucket, key)


def test_readiness_is_a_status_and_the_details_need_a_signed_admin(gateway: Gateway) -> None:
    ready = urllib3.request("GET", f"{gateway.endpoint}/_s3gate/readyz", retries=False)
    assert ready.status == 200 and json.loads(ready.data) == {"status": "ready"}
    anonymous = urllib3.request("GET", f"{gateway.endpoint}/_s3gate/status", retries=False)
    assert anonymous.status == 403 and b"<Code>AccessDenied</Code>" in anonymous.data
    assert b"bundle_hash" not in anonymous.data
    # A principal without HeadBucket on the audit bucket (the analysts' static key).
    code, body = gateway.status("reader")
    assert code == 403 and "AccessDenied" in body["error"] and "bundle_hash" not in body["error"]
    code, body = gateway.status("admin")
    assert code == 200 and body["status"] == "ready"
    assert re.fullmatch(r"[0-9a-f]{64}", body["policy"]["bundle_hash"])
    assert body["audit"]["replica_id"] and body["audit"]["active_key_id"]
    assert body["upstream"] == "reachable"
    # Like every request: one access-log line each, answered or refused.
    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line)
            for line in gateway.log().splitlines()
            if line.startswith("{") and '"GetGatewayStatus"' in line
        ]
        seen = {(x.get("principal"), x["status"], x.get("error")) for x in lines}
        wanted = {
            ("admin", 200, None),
            ("reader", 403, "AccessDenied"),
            (None, 403, "AccessDenied"),
        }
        if wanted <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert wanted <= seen


def test_a_missing_audit_bucket_stops_the_start(moto_endpoint: str, tmp_path: Path) -> None:
    missing = f"no-audit-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError) as exc:
        start_gateway(
            tmp_path / "gw",
            moto_endpoint,
            IDENTITIES,
            extra={"audit": {"bucket": missing}, "policy": {"audit_bucket": missing}},
        )
    log = str(exc.value)
    assert f"audit.bucket: the audit bucket {missing!r} does not exist" in log
    assert "s3gate ready" not in log


def test_the_documented_complete_example_starts(moto_endpoint: str, tmp_path: Path) -> None:
    """docs/configuration.md's example, as written, with its secrets mounted
    and its variables set; only the store's endpoint and the listen address
    are pointed at the test (through S3GATE_ variables, as an operator would)."""
    from s3gate.audit import keys as audit_keys

    secrets = tmp_path / "run" / "secrets"
    (secrets / "audit").mkdir(parents=True)
    (secrets / "ingest-key").write_text("ingest-secret\n")
    signing = audit_keys.generate(tmp_path / "keys")
    (secrets / "audit" / "signing-key.pem").write_bytes(signing.private_pem())
    config = tmp_path / "s3gate.yaml"
    config.write_text(complete_example().replace("/run/secrets/", f"{secrets}/"))
    (tmp_path / "policies").symlink_to(POLICIES)
    port = free_port()
    env = {
        k: v
        for k, v in client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET).items()
        if not k.startswith("AWS_")
    }
    env.update(
        {
            "UPSTREAM_ACCESS_KEY_ID": UPSTREAM_KEY,
            "UPSTREAM_SECRET_ACCESS_KEY": UPSTREAM_SECRET,
            "S3GATE_UPSTREAM__ENDPOINT_URL": moto_endpoint,
            "S3GATE_UPSTREAM__REGION": REGION,
            "S3GATE_SERVER__HOST": "127.0.0.1",
            "S3GATE_SERVER__PORT": str(port),
            "S3GATE_AUDIT__REPLICA_ID": f"example-{port}",
        }
    )
    log = tmp_path / "s3gate.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*S3GATE, "serve", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/_s3gate/readyz", proc=proc, timeout=30)
        ready = urllib3.request("GET", f"http://127.0.0.1:{port}/_s3gate/readyz", retries=False)
        assert ready.status == 200, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
