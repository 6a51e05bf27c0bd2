"""Held writes end to end: a boto3 agent's write is held, approvers decide
with `s3gate approvals …` over real HTTP, and the store (read directly, not
through the gateway) holds exactly what the decision says.

Rules used (test copy of policies/, approvals.yaml replaced):
  security  1 approval by `security`, no self-approval (masking `hold`s)
  pair      2 approvals by `security`   (`@approval("pair")`, pair-writers)
  quick     1 approval, pending TTL 2s  (`@approval("quick")`, quick-writers)
  raw-writers: `@approval("security")` with no `@mask`: quarantined as sent
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3gate.approvals.client import ApiError, ApprovalsClient
from tests.e2e.harness import (
    POLICIES,
    UPSTREAM_KEY,
    UPSTREAM_SECRET,
    Gateway,
    client_env,
    start_gateway,
)

BUCKET = "traces"
EXTRA_POLICIES = """
@id("e2e.strict-write")
@mask("write-strict")
permit (principal is Service in Group::"strict-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.pair-write")
@mask("write-default")
@approval("pair")
permit (principal is Service in Group::"pair-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.quick-write")
@approval("quick")
permit (principal is Service in Group::"quick-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.raw-write")
@approval("security")
permit (principal is Service in Group::"raw-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.copy-read")
permit (principal is Service in Group::"copy-writers", action in Action::"read", resource)
when { resource.bucket == "traces" };

@id("e2e.copy-write")
@mask("write-strict")
permit (principal is Service in Group::"copy-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.security-read")
@mask("analyst-view")
permit (principal is Service in Group::"security", action in Action::"read", resource)
when { resource.bucket == "traces" };
"""
APPROVALS = """
holds: security
rules:
  security: {approvers: [security], required: 1}
  pair: {approvers: [security], required: 2}
  quick: {approvers: [security], required: 1, pending_ttl: 2s}
"""
IDENTITIES = {
    "admin": ("admins",),
    "strict": ("strict-writers",),
    "copier": ("copy-writers",),
    "pair": ("pair-writers",),
    "quick": ("quick-writers",),
    "raw": ("raw-writers",),
    "sec1": ("security",),
    "sec2": ("security",),
    "sec-writer": ("security", "strict-writers"),
    "analyst": ("analysts",),
}
HELD_TRACE = (
    b'{"msg":"Project Nightjar ships friday","user":"alice@example.com"}\n'
    b'{"msg":"all good","user":"bob@example.com"}\n'
)


class Webhook:
    """A local HTTP server standing in for a chat webhook. It answers the
    first delivery 500, so the gateway's retry is exercised."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                data = self.rfile.read(length)
                hook.attempts += 1
                if hook.attempts == 1:
                    self.send_response(500)
                else:
                    hook.received.append(json.loads(data))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, hold_id: str) -> list[str]:
        return [m["event"] for m in self.received if m["approval_id"] == hold_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory, webhook: Webhook
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("approvals")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-approvals.cedar").write_text(EXTRA_POLICIES)
    (policies / "approvals.yaml").write_text(APPROVALS)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {
        "policy": {"dir": str(policies)},
        "approvals": {
            "sweep_seconds": 3600,
            "webhook_url": webhook.url,
            "webhook_first_delay_seconds": 0.2,
        },
        "audit": {"batch_max_seconds": 0.5},
    }
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


def cli(gw: Gateway, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "s3gate", "approvals", *args],
        env=gw.env(who),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def api(gw: Gateway, who: str) -> ApprovalsClient:
    """The same client the CLI uses, with `who`'s credentials in the environment."""
    ident = gw.identities[who]
    os.environ.update(
        AWS_ACCESS_KEY_ID=ident.access_key_id,
        AWS_SECRET_ACCESS_KEY=ident.secret_access_key,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    return ApprovalsClient(gw.endpoint)


def held_put(gw: Gateway, who: str, key: str, body: bytes = HELD_TRACE) -> str:
    """PutObject that the gateway must hold: returns the hold id."""
    with pytest.raises(ClientError) as caught:
        gw.client(who).put_object(
            Bucket=BUCKET, Key=key, Body=body, ContentType="application/x-ndjson"
        )
    resp = caught.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert resp["Error"]["Code"] == "AccessDenied"
    assert "Held for approval" in resp["Error"]["Message"]
    hold_id: str = resp["ResponseMetadata"]["HTTPHeaders"]["x-s3gate-hold-id"]
    assert hold_id in resp["Error"]["Message"]
    return hold_id


def keys_under(direct: Any, prefix: str) -> list[str]:
    page = direct.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in page.get("Contents", [])]


def quarantine(direct: Any, hold_id: str) -> list[str]:
    return keys_under(direct, f".s3gate/approvals/{hold_id}/")


def absent(direct: Any, key: str) -> bool:
    try:
        direct.head_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


@pytest.fixture
def key() -> str:
    return f"t{uuid.uuid4().hex[:10]}/run.jsonl"


def test_held_write_waits_in_quarantine_and_approval_releases_it_masked(
    gw: Gateway, direct: Any, key: str
) -> None:
    hold_id = held_put(gw, "strict", key)
    # Nothing in the target; the quarantine is sealed (no plaintext at rest).
    assert absent(direct, key)
    names = quarantine(direct, hold_id)
    assert sorted(n.rsplit("/", 1)[1] for n in names) == ["content", "request", "state"]
    for name in names:
        raw = direct.get_object(Bucket=BUCKET, Key=name)["Body"].read()
        assert b"Nightjar" not in raw and b"alice@example.com" not in raw and b"bob@" not in raw

    listed = cli(gw, "sec1", "list")
    assert listed.returncode == 0, listed.stderr
    assert hold_id in listed.stdout and key in listed.stdout

    shown = cli(gw, "sec1", "show", hold_id)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "strict" in out and f"s3://{BUCKET}/{key}" in out
    assert "masking:write-strict:internal_projects" in out
    assert "analyst-view" in out  # the approver's own read view made the preview
    assert "all good" in out  # the preview shows content …
    assert "Nightjar" not in out and "alice@example.com" not in out  # … as masked

    approved = cli(gw, "sec1", "approve", hold_id, "--reason", "reviewed: launch is public")
    assert approved.returncode == 0, approved.stderr
    assert "released" in approved.stdout
    stored = direct.get_object(Bucket=BUCKET, Key=key)
    body = stored["Body"].read()
    assert b"all good" in body
    assert b"Nightjar" not in body and b"alice@example.com" not in body
    assert stored["Metadata"]["s3gate-mask-profiles"] == "write-strict"
    assert "internal_projects=1" in stored["Metadata"]["s3gate-mask-counts"]
    assert stored["Metadata"]["s3gate-approval"] == hold_id
    assert quarantine(direct, hold_id) == []
    # Decided once: a second approval finds nothing.
    again = cli(gw, "sec2", "approve", hold_id, "--reason", "late")
    assert again.returncode == 1 and "NoSuchHold" in again.stderr


def test_deny_destroys_the_quarantine(gw: Gateway, direct: Any, key: str) -> None:
    hold_id = held_put(gw, "strict", key)
    no_reason = api(gw, "sec1")
    with pytest.raises(ApiError) as caught:
        no_reason.deny(hold_id, "")
    assert caught.value.code == "ApprovalNotAllowed"
    denied = cli(gw, "sec1", "deny", hold_id, "--reason", "code name must not be stored")
    assert denied.returncode == 0, denied.stderr
    assert absent(direct, key) and quarantine(direct, hold_id) == []
    assert hold_id not in cli(gw, "sec1", "list").stdout


def test_self_approval_is_refused(gw: Gateway, direct: Any, key: str) -> None:
    hold_id = held_put(gw, "sec-writer", key)
    mine = cli(gw, "sec-writer", "approve", hold_id, "--reason", "trust me")
    assert mine.returncode == 1 and "ApprovalNotAllowed" in mine.stderr
    assert absent(direct, key) and len(quarantine(direct, hold_id)) == 3
    assert cli(gw, "sec1", "approve", hold_id, "--reason", "ok").returncode == 0
    assert not absent(direct, key)


def test_non_approvers_see_nothing(gw: Gateway, direct: Any, key: str) -> None:
    hold_id = held_put(gw, "strict", key)
    assert hold_id not in cli(gw, "analyst", "list").stdout
    for who in ("analyst", "strict"):
        shown = cli(gw, who, "show", hold_id)
        assert shown.returncode == 1 and "NoSuchHold" in shown.stderr
        assert "Nightjar" not in shown.stderr
    # Unsigned requests are refused before anything.
    resp = urllib3.request("GET", f"{gw.endpoint}/_s3gate/approvals/api/holds", retries=False)
    assert resp.status == 403 and json.loads(resp.data)["error"] == "AccessDenied"
    # The quarantine is not addressable through the S3 API, even by admins.
    with pytest.raises(ClientError) as caught:
        gw.client("admin").get_object(Bucket=BUCKET, Key=f".s3gate/approvals/{hold_id}/content")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert cli(gw, "sec1", "deny", hold_id, "--reason", "cleanup").returncode == 0


def test_n_of_m(gw: Gateway, direct: Any, key: str) -> None:
    hold_id = held_put(gw, "pair", key)
    first = cli(gw, "sec1", "approve", hold_id, "--reason", "looks fine")
    assert first.returncode == 0 and "1 of 2" in first.stdout and "pending" in first.stdout
    twice = cli(gw, "sec1", "approve", hold_id, "--reason", "still fine")
    assert twice.returncode == 0 and "1 of 2" in twice.stdout  # one vote per approver
    assert absent(direct, key)
    second = cli(gw, "sec2", "approve", hold_id, "--reason", "agreed")
    assert second.returncode == 0 and "released" in second.stdout
    body = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert b"alice@example.com" not in body and b"all good" in body  # write-default masked
    assert quarantine(direct, hold_id) == []


def readyz(gw: Gateway) -> dict[str, Any]:
    """The gateway's details (the signed /_s3gate/status; readyz is a status only)."""
    status, data = gw.status("admin")
    assert status == 200, data
    return data


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def change_bundle(gw: Gateway) -> None:
    old = readyz(gw)["policy"]["bundle_hash"]
    policy_dir = json.loads(json.dumps(gw.config_path.read_text()))  # for the error message
    cedar = gw.config_path.parent / "policies" / "access" / "e2e-approvals.cedar"
    cedar.write_text(cedar.read_text() + f"\n// touched {uuid.uuid4().hex}\n")
    gw.proc.send_signal(signal.SIGHUP)
    wait_for(
        f"a new bundle in {policy_dir[:0]}", lambda: readyz(gw)["policy"]["bundle_hash"] != old
    )


def test_content_bound_approvals_need_a_new_review_after_a_bundle_change(
    gw: Gateway, direct: Any, key: str
) -> None:
    hold_id = held_put(gw, "pair", key)
    assert cli(gw, "sec1", "approve", hold_id, "--reason", "fine").returncode == 0
    seen = api(gw, "sec2").show(hold_id)
    change_bundle(gw)
    # An approval for the bundle it was shown under is refused once that changed …
    with pytest.raises(ApiError) as caught:
        api(gw, "sec2").approve(hold_id, "ok", seen["sha256"], seen["bundle_hash"])
    assert caught.value.status == 409 and caught.value.code == "HoldChanged"
    # … and a vote given under the old bundle no longer counts.
    second = cli(gw, "sec2", "approve", hold_id, "--reason", "fine under the new rules")
    assert second.returncode == 0 and "1 of 2" in second.stdout
    assert absent(direct, key)
    # A wrong SHA-256 is refused the same way.
    fresh = api(gw, "sec1").show(hold_id)
    with pytest.raises(ApiError) as caught:
        api(gw, "sec1").approve(hold_id, "ok", "0" * 64, fresh["bundle_hash"])
    assert caught.value.code == "HoldChanged"
    again = cli(gw, "sec1", "approve", hold_id, "--reason", "re-reviewed")
    assert again.returncode == 0 and "released" in again.stdout
    assert not absent(direct, key)


def test_expired_holds_are_destroyed(gw: Gateway, direct: Any, key: str) -> None:
    hold_id = held_put(gw, "quick", key, b"raw trace, no mask\n")
    assert len(quarantine(direct, hold_id)) == 3
    time.sleep(2.5)
    late = cli(gw, "sec1", "approve", hold_id, "--reason", "too late")
    assert late.returncode == 1 and "the hold is expired" in late.stderr
    assert absent(direct, key) and quarantine(direct, hold_id) == []


def test_unmasked_approval_write_is_released_as_sent(gw: Gateway, direct: Any, key: str) -> None:
    body = b"raw trace, no mask\n"
    hold_id = held_put(gw, "raw", key, body)
    assert cli(gw, "sec2", "approve", hold_id, "--reason", "fine").returncode == 0
    assert direct.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def audit_history(moto_endpoint: str, gw: Gateway, hold_id: str, want: int) -> list[dict[str, Any]]:
    """`s3gate audit show --approval ID`, straight from the store, until it
    shows `want` events (shipping runs a moment behind)."""
    replica = "gw-" + gw.endpoint.rsplit(":", 1)[1]
    env = client_env(moto_endpoint, UPSTREAM_KEY, UPSTREAM_SECRET)
    events: list[dict[str, Any]] = []
    for _ in range(10):
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "s3gate",
                "audit",
                "show",
                "--approval",
                hold_id,
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
        if len(events) >= want:
            return events
        time.sleep(1)
    return events


def test_every_state_change_is_audited_and_notified(
    gw: Gateway, direct: Any, key: str, moto_endpoint: str, webhook: Webhook
) -> None:
    hold_id = held_put(gw, "pair", key)
    for who in ("sec1", "sec2"):
        seen = api(gw, who).show(hold_id)
        api(gw, who).approve(hold_id, f"ok from {who}", seen["sha256"], seen["bundle_hash"])
    assert not absent(direct, key)
    events = audit_history(moto_endpoint, gw, hold_id, 7)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "approval.held",
        "approval.viewed",
        "approval.approved",
        "approval.viewed",
        "approval.approved",
        "approval.released",
        "approval.destroyed",
    ]
    approved = [e for e in events if e["type"] == "approval.approved"]
    assert [e["principal"]["subject"] for e in approved] == ["sec1", "sec2"]
    assert [e["details"]["reason"] for e in approved] == ["ok from sec1", "ok from sec2"]
    assert events[0]["principal"]["subject"] == "pair" and events[0]["key"] == key
    # Webhook: created, each approval, released — after one failed delivery retried.
    wait_for("webhook deliveries", lambda: len(webhook.events(hold_id)) >= 4)
    assert webhook.events(hold_id) == [
        "approval.created",
        "approval.approved",
        "approval.approved",
        "approval.released",
    ]
    assert webhook.attempts > len(webhook.received)  # the 500 was retried
    for message in webhook.received:
        assert "text" in message and message["approval_id"]
        dumped = json.dumps(message)
        assert "alice@example.com" not in dumped and "Nightjar" not in dumped


def test_denied_and_expired_histories(
    gw: Gateway, direct: Any, moto_endpoint: str, webhook: Webhook
) -> None:
    denied_id = held_put(gw, "strict", f"t{uuid.uuid4().hex[:10]}/d.jsonl")
    api(gw, "sec1").deny(denied_id, "not today")
    expired_id = held_put(gw, "quick", f"t{uuid.uuid4().hex[:10]}/e.jsonl", b"x\n")
    time.sleep(2.5)
    assert expired_id not in [h["id"] for h in api(gw, "sec1").list()]  # listing expires it
    denied = audit_history(moto_endpoint, gw, denied_id, 3)
    assert [e["type"] for e in denied] == ["approval.held", "approval.denied", "approval.destroyed"]
    assert denied[1]["details"]["reason"] == "not today"
    expired = audit_history(moto_endpoint, gw, expired_id, 3)
    assert [e["type"] for e in expired] == [
        "approval.held",
        "approval.expired",
        "approval.destroyed",
    ]
    wait_for("webhook deliveries", lambda: "approval.expired" in webhook.events(expired_id))
    assert webhook.events(denied_id) == ["approval.created", "approval.denied"]


def held_message(caught: pytest.ExceptionInfo[ClientError]) -> str:
    """The hold id in a HeldForApproval refusal (403 AccessDenied)."""
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied", error
    assert "Held for approval" in error["Message"]
    hold_id = error["Message"].rsplit(" ", 1)[1]
    assert len(hold_id) == 24 and int(hold_id, 16) >= 0, hold_id
    return hold_id


def test_a_held_copy_waits_in_quarantine_until_approved(gw: Gateway, direct: Any, key: str) -> None:
    # A raw trace written around the gateway, copied by a masked writer whose
    # write profile holds it: the copy waits, sealed; the source is untouched.
    source = key.replace("run.jsonl", "raw.jsonl")
    direct.put_object(Bucket=BUCKET, Key=source, Body=HELD_TRACE)
    with pytest.raises(ClientError) as caught:
        gw.client("copier").copy_object(
            Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": source}
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    hold_id = held_message(caught)
    assert absent(direct, key)
    for name in quarantine(direct, hold_id):
        raw = direct.get_object(Bucket=BUCKET, Key=name)["Body"].read()
        assert b"Nightjar" not in raw and b"alice@example.com" not in raw
    assert cli(gw, "sec1", "approve", hold_id, "--reason", "copy reviewed").returncode == 0
    body = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert b"all good" in body and b"Nightjar" not in body and b"alice@example.com" not in body
    assert direct.get_object(Bucket=BUCKET, Key=source)["Body"].read() == HELD_TRACE


def test_a_held_multipart_upload_waits_in_quarantine_until_approved(
    gw: Gateway, direct: Any, key: str
) -> None:
    # boto3's managed upload in 5 MiB parts: the parts are staged, Complete
    # masks them as one object, the hold keeps it; the parts are gone after.
    filler = b'{"msg":"routine step","user":"carol@example.com"}\n' * 140_000
    data = filler + HELD_TRACE
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    with pytest.raises(ClientError) as caught:
        gw.client("strict").upload_fileobj(io.BytesIO(data), BUCKET, key, Config=config)
    hold_id = held_message(caught)
    assert absent(direct, key)
    staged = keys_under(direct, ".s3gate/mpu/")
    assert not [n for n in staged if "/part-" in n], staged
    for name in quarantine(direct, hold_id):
        raw = direct.get_object(Bucket=BUCKET, Key=name)["Body"].read()
        assert b"Nightjar" not in raw and b"carol@example.com" not in raw
    assert cli(gw, "sec1", "approve", hold_id, "--reason", "upload reviewed").returncode == 0
    body = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body.count(b"routine step") == 140_000
    assert b"Nightjar" not in body and b"carol@example.com" not in body


def access_lines(gw: Gateway, operation: str) -> list[dict[str, Any]]:
    found = []
    for line in gw.log().splitlines():
        if line.startswith("{") and f'"{operation}"' in line:
            entry = json.loads(line)
            if entry.get("operation") == operation:
                found.append(entry)
    return found


def test_admin_api_requests_have_access_log_lines(gw: Gateway, key: str) -> None:
    hold_id = held_put(gw, "strict", key)
    assert cli(gw, "sec1", "show", hold_id).returncode == 0
    refused = cli(gw, "analyst", "show", hold_id)  # not an approver: NoSuchHold
    assert refused.returncode != 0

    def mine(entry: dict[str, Any]) -> bool:
        return entry.get("key") == hold_id

    wait_for(
        "the access-log lines",
        lambda: len(list(filter(mine, access_lines(gw, "ApprovalsApiShow")))) >= 2,
    )
    shown = [e for e in access_lines(gw, "ApprovalsApiShow") if mine(e)]
    by_key = {e["access_key_id"]: e for e in shown}
    ok = by_key[gw.identities["sec1"].access_key_id]
    assert ok["status"] == 200 and ok["principal"] == "sec1" and "error" not in ok
    no = by_key[gw.identities["analyst"].access_key_id]
    assert no["status"] == 404 and no["error"] == "NoSuchHold"
    # Never the signature or the body.
    for entry in shown:
        assert "Signature" not in json.dumps(entry) and "reason" not in entry
