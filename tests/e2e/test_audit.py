"""The audit trail end to end: signed chains in the audit bucket, read by an
auditor through the gateway, verified with `s3gate audit verify`, surviving
a kill -9 under load with every acknowledged request accounted for."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.clients import aws
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
    ANALYST_ROLE,
    WRITER_ROLE,
    assume_response,
    identity_section,
    new_session_keys,
    sts_failure,
)

S3GATE = [sys.executable, "-m", "s3gate"]
AUDITOR_POLICY = """
@id("e2e.auditor")
permit (
  principal is Service in Group::"auditors",
  action in [Action::"read", Action::"list"],
  resource
)
when { resource.bucket == "audit" };
"""
IDENTITIES = {"admin": ("admins",), "auditor": ("auditors",)}


def _settings(keys: Path, policies: Path, replica: str) -> dict[str, Any]:
    signing = sorted(keys.glob("*.private.pem"))
    return {
        "policy": {"dir": str(policies)},
        "audit": {
            "signing_keys": [str(p) for p in signing],
            "replica_id": replica,
            "batch_max_seconds": 0.3,
            "heartbeat_seconds": 1.0,
        },
    }


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit-keys")
    subprocess.run(
        [*S3GATE, "keys", "generate", "--out", str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit-policies") / "policies"
    shutil.copytree(POLICIES, folder)
    (folder / "access" / "e2e-auditor.cedar").write_text(AUDITOR_POLICY)
    return folder


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """A test OIDC issuer, so that STS exchanges are audited too."""
    running = Issuer([make_key("RS256", "audit-k1")])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str,
    keys: Path,
    policies: Path,
    issuer: Issuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    replica = f"audit-e2e-{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("audit-gw")
    settings = _settings(keys, policies, replica)
    settings["identity"] = identity_section(
        [issuer_config("dev", issuer.url)], new_session_keys("s1"), "s1"
    )
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=settings)
    gateway.replica = replica  # type: ignore[attr-defined]
    yield gateway
    gateway.stop()


def verify(
    endpoint: str, key_id: str, secret: str, keys: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = client_env(endpoint, key_id, secret)
    return subprocess.run(
        [*S3GATE, "audit", "verify", "--bucket", "audit", "--trusted-keys", str(keys), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def shipped_request_ids(moto_endpoint: str, keys: Path, replica: str) -> set[str]:
    return {e.get("request_id") for e in shipped_events(moto_endpoint, keys, replica)}


def shipped_events(moto_endpoint: str, keys: Path, replica: str) -> list[dict[str, Any]]:
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
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
            "--since",
            "1h",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]


def wait_shipped(
    moto_endpoint: str, keys: Path, replica: str, wanted: set[str], timeout: float = 30
) -> set[str]:
    """The shipped request ids once `wanted` are among them (or at the
    timeout). A chain that has no manifest yet is waited for too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = shipped_request_ids(moto_endpoint, keys, replica)
        except AssertionError as exc:
            if "no manifests" not in str(exc):
                raise
            found = set()
        if wanted <= found:
            return found
        time.sleep(0.5)
    return shipped_request_ids(moto_endpoint, keys, replica)


def test_requests_are_audited_and_the_chain_verifies(
    gw: Gateway, moto_endpoint: str, keys: Path, direct: Any, bucket: str
) -> None:
    admin = gw.client("admin")
    put = admin.put_object(Bucket=bucket, Key="k", Body=b"hello")
    got = admin.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"hello"
    with pytest.raises(ClientError) as denied:
        gw.client("auditor").get_object(Bucket=bucket, Key="k")
    ids = {
        put["ResponseMetadata"]["RequestId"],
        got["ResponseMetadata"]["RequestId"],
        denied.value.response["ResponseMetadata"]["RequestId"],
    }
    replica = gw.replica  # type: ignore[attr-defined]
    assert ids <= wait_shipped(moto_endpoint, keys, replica, ids)
    # Straight from the store, with the store's credentials.
    clean = verify(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET, keys, "--replica", replica)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "OK" in clean.stdout
    # Through the gateway, as the auditor.
    who = gw.identities["auditor"]
    through = verify(
        gw.endpoint, who.access_key_id, who.secret_access_key, keys, "--replica", replica
    )
    assert through.returncode == 0, through.stdout + through.stderr


def show_request(moto_endpoint: str, keys: Path, replica: str, rid: str) -> list[dict[str, Any]]:
    """The shipped events of one request, read straight from the store."""
    wait_shipped(moto_endpoint, keys, replica, {rid})
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
    out = subprocess.run(
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
            rid,
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_event_content(gw: Gateway, moto_endpoint: str, keys: Path, bucket: str) -> None:
    admin = gw.client("admin")
    put = admin.put_object(Bucket=bucket, Key="e.txt", Body=b"event body")
    rid = put["ResponseMetadata"]["RequestId"]
    events = show_request(moto_endpoint, keys, gw.replica, rid)  # type: ignore[attr-defined]
    assert len(events) == 1
    ev = events[0]
    assert ev["operation"] == "PutObject" and ev["bucket"] == bucket and ev["key"] == "e.txt"
    assert ev["principal"]["subject"] == "admin"
    assert ev["status"] == 200 and ev["decision"] == "allow"
    assert ev["policy_ids"] == ["dev-admin.all"]
    assert len(ev["bundle_hash"]) == 64
    assert ev["sha256_received"] == hashlib.sha256(b"event body").hexdigest()
    text = json.dumps(ev)
    assert gw.identities["admin"].secret_access_key not in text
    assert "Signature" not in text


def test_sts_exchange_events_name_the_role_and_the_identity(
    gw: Gateway, moto_endpoint: str, keys: Path, issuer: Issuer
) -> None:
    """A granted and a refused AssumeRoleWithWebIdentity, with boto3 over the
    wire: each `sts.exchange` event says which role was asked for, who the
    token named (granted only) and how it ended; the token is never kept."""
    subject = f"agent-{uuid.uuid4().hex[:8]}"
    token = issuer.token(sub=subject, groups=["trace-writers"], team="alpha")
    # A writer's token does not satisfy the analyst role's trust. (Refused
    # first: once the granted one is shipped, so is this one, before it.)
    refused = sts_failure(gw.endpoint, ANALYST_ROLE, token, "audit-check")
    assert refused.code == "AccessDenied"
    granted = assume_response(gw.endpoint, WRITER_ROLE, token, "audit-check")
    rid = granted["ResponseMetadata"]["RequestId"]
    wait_shipped(moto_endpoint, keys, gw.replica, {rid})  # type: ignore[attr-defined]
    events = [
        e
        for e in shipped_events(moto_endpoint, keys, gw.replica)  # type: ignore[attr-defined]
        if e["type"] == "sts.exchange"
    ]
    ok = [e for e in events if e["request_id"] == rid]
    assert len(ok) == 1, events
    ev = ok[0]
    assert ev["details"]["role_arn"] == WRITER_ROLE
    assert ev["outcome"] == "allowed" and ev["decision"] == "allow" and ev["status"] == 200
    assert ev["principal"]["subject"] == subject
    assert ev["principal"]["issuer"] == "dev"
    assert ev["principal"]["access_key_id"] == granted["Credentials"]["AccessKeyId"]
    assert ev["error_code"] is None
    denied = [e for e in events if e is not ev and e["details"]["role_arn"] == ANALYST_ROLE]
    assert len(denied) == 1, events
    assert denied[0]["outcome"] == "denied" and denied[0]["error_code"] == "AccessDenied"
    assert denied[0]["principal"] is None
    text = json.dumps(events)
    assert token not in text and granted["Credentials"]["SecretAccessKey"] not in text


@pytest.mark.parametrize(
    ("size", "byte_range", "types"),
    [
        # Small bodies are answered in one go: one self-contained event.
        (5_000, None, ["request"]),
        (5_000, "bytes=10-99", ["request"]),
        # Larger ones stream: the decision before the first byte, then the completion.
        (300_000, None, ["request.decision", "request.completion"]),
        (300_000, "bytes=1000-199999", ["request.decision", "request.completion"]),
        # Several hashing batches, hashed off the event loop (s3gate.digests).
        (3_500_000, None, ["request.decision", "request.completion"]),
    ],
)
def test_get_events_say_what_was_returned(
    gw: Gateway,
    moto_endpoint: str,
    keys: Path,
    bucket: str,
    size: int,
    byte_range: str | None,
    types: list[str],
) -> None:
    admin = gw.client("admin")
    key = f"get-{size}-{byte_range}"
    admin.put_object(Bucket=bucket, Key=key, Body=os.urandom(size))
    extra = {"Range": byte_range} if byte_range else {}
    got = admin.get_object(Bucket=bucket, Key=key, **extra)
    body = got["Body"].read()
    rid = got["ResponseMetadata"]["RequestId"]
    events = show_request(moto_endpoint, keys, gw.replica, rid)  # type: ignore[attr-defined]
    assert [e["type"] for e in events] == types
    last = events[-1]
    assert last["operation"] == "GetObject" and last["key"] == key
    assert last["status"] == (206 if byte_range else 200)
    assert last["range"] == byte_range
    assert last["bytes_out"] == len(body)
    if len(events) == 1:  # answered in one go: SHA-256, and no BLAKE3 field at all
        assert last["sha256_returned"] == hashlib.sha256(body).hexdigest()
        assert "blake3_returned" not in last
    else:  # streamed: BLAKE3, the default audit.returned_digest
        assert last["blake3_returned"] == blake3.blake3(body).hexdigest()
        assert last["sha256_returned"] is None
        assert "blake3_returned" not in events[0]
    if len(events) == 2:
        assert last["parent_id"] == events[0]["id"]
        assert events[0]["bytes_out"] is None and events[0]["decision"] == "allow"


def test_streamed_get_records_sha256_when_configured(
    moto_endpoint: str, keys: Path, policies: Path, bucket: str, tmp_path: Path
) -> None:
    """audit.returned_digest: sha256 (where only FIPS digests may be used):
    a streamed GET's completion carries sha256_returned and no BLAKE3 field."""
    replica = f"audit-sha-{uuid.uuid4().hex[:8]}"
    settings = _settings(keys, policies, replica)
    settings["audit"]["returned_digest"] = "sha256"
    gateway = start_gateway(tmp_path, moto_endpoint, IDENTITIES, extra=settings)
    try:
        admin = gateway.client("admin")
        admin.put_object(Bucket=bucket, Key="sha-configured", Body=os.urandom(300_000))
        got = admin.get_object(Bucket=bucket, Key="sha-configured")
        body = got["Body"].read()
        rid = got["ResponseMetadata"]["RequestId"]
        events = show_request(moto_endpoint, keys, replica, rid)
    finally:
        gateway.stop()
    assert [e["type"] for e in events] == ["request.decision", "request.completion"]
    assert events[-1]["sha256_returned"] == hashlib.sha256(body).hexdigest()
    assert events[-1]["bytes_out"] == len(body) == 300_000
    assert all("blake3_returned" not in e for e in events)


def test_auditor_reads_the_audit_bucket_with_the_aws_cli(gw: Gateway, tmp_path: Path) -> None:
    listing = aws(gw, "s3", "ls", "s3://audit/", "--recursive", identity="auditor").stdout
    manifests = [line.split()[-1] for line in listing.splitlines() if "/manifests/" in line]
    assert manifests
    out = tmp_path / "m.json"
    aws(gw, "s3", "cp", f"s3://audit/{manifests[-1]}", str(out), identity="auditor")
    manifest = json.loads(out.read_text())
    assert "signature" in json.dumps(manifest)


@pytest.mark.parametrize("identity", ["admin", "auditor"])
def test_nobody_writes_or_deletes_in_the_audit_bucket(
    gw: Gateway, identity: str, direct: Any
) -> None:
    client = gw.client(identity)
    existing = direct.list_objects_v2(Bucket="audit", MaxKeys=1)["Contents"][0]["Key"]
    attempts = [
        lambda: client.put_object(Bucket="audit", Key="forged.json", Body=b"{}"),
        lambda: client.put_object(Bucket="audit", Key=existing, Body=b"{}"),
        lambda: client.delete_object(Bucket="audit", Key=existing),
        lambda: client.copy_object(
            Bucket="audit", Key="c.json", CopySource={"Bucket": "audit", "Key": existing}
        ),
        lambda: client.create_multipart_upload(Bucket="audit", Key="m.json"),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as exc:
            attempt()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    result = client.delete_objects(Bucket="audit", Delete={"Objects": [{"Key": existing}]})
    assert [e["Code"] for e in result.get("Errors", [])] == ["AccessDenied"]
    direct.head_object(Bucket="audit", Key=existing)  # still there
    with pytest.raises(ClientError):
        direct.head_object(Bucket="audit", Key="forged.json")


def test_keys_are_published(gw: Gateway, keys: Path) -> None:
    import urllib3

    resp = urllib3.request("GET", f"{gw.endpoint}/_s3gate/audit/keys", retries=False)
    assert resp.status == 200
    published = json.loads(resp.data)
    kid = next(keys.glob("*.private.pem")).name.split(".")[0]
    assert published["active_kid"] == kid


def _load(
    endpoint: str,
    identity: Any,
    bucket: str,
    stop: threading.Event,
    acked: list[str],
    lock: threading.Lock,
) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=identity.access_key_id,
        aws_secret_access_key=identity.secret_access_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    i = 0
    while not stop.is_set():
        i += 1
        key = f"load/{threading.get_ident()}/{i}"
        try:
            put = client.put_object(Bucket=bucket, Key=key, Body=os.urandom(512))
            got = client.get_object(Bucket=bucket, Key=key)
            got["Body"].read()
        except Exception:  # noqa: S112 - the gateway is being killed under us
            continue
        with lock:
            acked.append(put["ResponseMetadata"]["RequestId"])
            acked.append(got["ResponseMetadata"]["RequestId"])


def test_kill_9_under_load_loses_no_acknowledged_event(
    moto_endpoint: str, keys: Path, policies: Path, tmp_path: Path, bucket: str
) -> None:
    replica = f"crash-{uuid.uuid4().hex[:8]}"
    settings = _settings(keys, policies, replica)
    settings["audit"]["batch_max_seconds"] = 2.0  # events sit in the spool when killed
    gateway = start_gateway(tmp_path / "gw", moto_endpoint, IDENTITIES, extra=settings)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=_load,
            args=(gateway.endpoint, gateway.identities["admin"], bucket, stop, acked, lock),
        )
        for _ in range(8)
    ]
    for w in workers:
        w.start()
    time.sleep(3)
    gateway.proc.send_signal(signal.SIGKILL)
    gateway.proc.wait()
    stop.set()
    for w in workers:
        w.join()
    assert len(acked) > 20
    # Same data folder, same replica: the spool is recovered and shipped.
    config = gateway.config_path
    restarted = subprocess.Popen(
        [*S3GATE, "serve", "--config", str(config)],
        stdout=(tmp_path / "restart.log").open("wb"),
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3GATE_"))},
    )
    try:
        found = wait_shipped(moto_endpoint, keys, replica, set(acked), timeout=60)
        missing = set(acked) - found
        assert not missing, f"{len(missing)} acknowledged requests have no event"
        result = verify(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET, keys, "--replica", replica)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)


def _readyz(gateway: Gateway) -> tuple[int, dict[str, Any]]:
    """Readiness's HTTP status, with the details from the signed status endpoint."""
    import urllib3

    resp = urllib3.request("GET", f"{gateway.endpoint}/_s3gate/readyz", retries=False)
    assert json.loads(resp.data) == {"status": "ready" if resp.status == 200 else "unavailable"}
    code, details = gateway.status("admin")
    assert code == 200, details
    return resp.status, details


def test_a_full_spool_disk_fails_closed_and_the_gateway_recovers(
    moto_endpoint: str, keys: Path, policies: Path, tmp_path: Path, bucket: str, direct: Any
) -> None:
    """The spool's disk is full — a file size limit on the gateway process
    stands in for it: every file write fails (EFBIG). Requests get 503
    ServiceUnavailable, uploads stop reaching the store, readiness fails.
    Once there is room again the gateway resumes by itself, records
    `audit.spool_resumed`, and the chain verifies."""
    replica = f"full-{uuid.uuid4().hex[:8]}"
    settings = _settings(keys, policies, replica)
    gateway = start_gateway(tmp_path / "gw", moto_endpoint, IDENTITIES, extra=settings)
    client = gateway.client("admin")
    try:
        client.put_object(Bucket=bucket, Key="full/before", Body=b"kept")
        soft, hard = resource.prlimit(gateway.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(gateway.proc.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            # The first request whose event cannot be kept gets no answer but 503...
            with pytest.raises(ClientError) as exc:
                client.get_object(Bucket=bucket, Key="full/before")
            assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            # ...and from then on requests are refused before they reach the store.
            with pytest.raises(ClientError) as exc:
                client.put_object(Bucket=bucket, Key="full/during", Body=b"lost")
            assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
            with pytest.raises(ClientError):
                direct.head_object(Bucket=bucket, Key="full/during")
            status, body = _readyz(gateway)
            assert status == 503 and body["audit"]["spool_writable"] is False
        finally:
            resource.prlimit(gateway.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
        # Room again: a retry (at most one a second) finds the spool working.
        deadline = time.monotonic() + 15
        while True:
            try:
                put = client.put_object(Bucket=bucket, Key="full/after", Body=b"audited")
                break
            except ClientError as exc:
                assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
                assert time.monotonic() < deadline, "the gateway did not recover"
                time.sleep(0.3)
        final = _readyz(gateway)
        assert final[0] == 200, final
        request_id = put["ResponseMetadata"]["RequestId"]
        assert request_id in wait_shipped(moto_endpoint, keys, replica, {request_id})
        events = shipped_events(moto_endpoint, keys, replica)
        resumed = [e for e in events if e["type"] == "audit.spool_resumed"]
        assert resumed and "too large" in str(resumed[0]["details"]["error"])
        assert not [e for e in events if e.get("key") == "full/during"]
        result = verify(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET, keys, "--replica", replica)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        gateway.stop()
