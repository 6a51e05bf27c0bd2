"""The masking worker pool seen from outside: a worker killed while it masks
a large PUT fails that request closed (500 InternalError, nothing stored)
and is replaced (the next masked PUT succeeds); one killed during a masked
Complete turns its kept-alive 200 into an `<Error>`, and the retried
Complete succeeds; `s3gate serve` refuses to be
several server processes (docs/deployment.md, "Masking workers").

The worker's pid comes from `/_s3gate/status` (`masking.pids`), the
operator's view of the pool.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.harness import POLICIES, Gateway, free_port, start_gateway
from tests.e2e.test_masked_complete import PART, dense, upload_parts
from tests.e2e.test_masking import EXTRA_POLICIES, IDENTITIES, leaked
from tests.tracegen import generate

MiB = 1024 * 1024
BUCKET = "traces"
PIECE = 64 * 1024


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("masking-pool")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {
        "policy": {"dir": str(policies)},
        "masking": {"workers": 1, "complete_keepalive_seconds": 0.2},
    }
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


def pool_status(gw: Gateway) -> dict[str, Any]:
    code, body = gw.status()
    assert code == 200, body
    masking = body["masking"]
    assert isinstance(masking, dict)
    return masking


def wait_until(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class SlowPut:
    """A signed PUT on a raw socket: headers, then the body in pieces from a
    thread that stops after `pause_at` bytes until `resume` is set. The
    response is read on the caller's thread while the body is still going
    out, so a gateway that answers early and closes is still heard."""

    def __init__(self, gw: Gateway, key: str, body: bytes, pause_at: int) -> None:
        request = rawhttp.sign(gw, "PUT", f"/{BUCKET}/{key}", body=body, identity="writer")
        url = urlsplit(gw.endpoint)
        head = [f"PUT /{BUCKET}/{key} HTTP/1.1", f"Host: {url.netloc}"]
        head += [f"{name}: {value}" for name, value in request.headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self._head = ("\r\n".join(head) + "\r\n\r\n").encode()
        self._body = body
        self._pause_at = pause_at
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.sent = 0
        self._sock = socket.create_connection((url.hostname, url.port), timeout=120)
        self._thread = threading.Thread(target=self._send, daemon=True)

    def start(self) -> None:
        self._sock.sendall(self._head)
        self._thread.start()

    def _send(self) -> None:
        try:
            while self.sent < len(self._body):
                if self.sent >= self._pause_at and not self.resume.is_set():
                    self.paused.set()
                    self.resume.wait(120)
                piece = self._body[self.sent : self.sent + PIECE]
                self._sock.sendall(piece)
                self.sent += len(piece)
        except OSError:
            pass  # the gateway answered and closed: the reader has its answer

    def response(self) -> tuple[int, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self._sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(length.group(1)) if length else None
        while want is None or len(body) < want:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            body += chunk
        self._sock.close()
        self._thread.join(30)
        return status, body


def test_a_worker_killed_mid_put_fails_it_closed_and_is_replaced(gw: Gateway, direct: Any) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}/"
    data, labels = generate(4_000, seed=41, pii_rate=1.0)
    assert len(data) > 8 * MiB
    before = wait_until("a live worker", lambda: pool_status(gw)["alive"] == 1 and pool_status(gw))
    [victim] = before["pids"]
    key = prefix + "killed.jsonl"
    put = SlowPut(gw, key, data, pause_at=3 * MiB)
    put.start()
    assert put.paused.wait(60), "the body never reached the pause"
    # The object's run is open in the worker (its body is not complete):
    # killing it now is killing it mid-object.
    os.kill(victim, signal.SIGKILL)
    put.resume.set()
    status, body = put.response()
    assert status == 500, body
    assert b"<Code>InternalError</Code>" in body, body
    # Nothing at the key, not even a partial object; nothing else under the prefix.
    with pytest.raises(ClientError) as missing:
        direct.head_object(Bucket=BUCKET, Key=key)
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    assert direct.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount") == 0
    # The pool replaced the worker: a new pid, one restart.
    after = wait_until(
        "the replacement",
        lambda: (s := pool_status(gw))["alive"] == 1 and s["restarts"] == 1 and s,
    )
    assert after["pids"] != [victim]
    assert f"(pid {victim}) died; replacing it" in gw.log()
    # ... and the next masked PUT goes through it, masked.
    small, small_labels = generate(2_000, seed=42, pii_rate=1.0)
    next_key = prefix + "after.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=next_key, Body=small)
    stored = direct.get_object(Bucket=BUCKET, Key=next_key)["Body"].read()
    assert leaked(stored, small_labels) == []
    assert len(stored.splitlines()) == len(small.splitlines())
    assert leaked(data, labels)  # the killed body did carry secrets


def test_a_worker_killed_mid_complete_is_an_error_document_and_a_retry_succeeds(
    gw: Gateway, direct: Any
) -> None:
    """A masked CompleteMultipartUpload answers 200 at once and keeps the
    connection alive with spaces while it masks; the worker killed after the
    first space turns the rest into an S3 `<Error>` (InternalError), nothing
    is stored, and the failure is not recorded as the upload's outcome: the
    client's retry masks it again on the replacement and succeeds, once."""
    prefix = f"t{uuid.uuid4().hex[:10]}/"
    data, labels = dense(PART + MiB, seed=44)
    key = prefix + "complete.jsonl"
    writer = gw.client("writer")
    uid, parts = upload_parts(writer, key, data)
    [victim] = pool_status(gw)["pids"]
    xml = (
        "<CompleteMultipartUpload>"
        + "".join(
            f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>"
            for p in parts
        )
        + "</CompleteMultipartUpload>"
    )
    body = xml.encode()
    request = rawhttp.sign(
        gw, "POST", f"/{BUCKET}/{key}?uploadId={uid}", body=body, identity="writer"
    )
    prepared = request.prepare()
    response = urllib3.PoolManager().request(
        "POST",
        prepared.url,
        body=body,
        headers=dict(prepared.headers),
        retries=False,
        preload_content=False,
        timeout=urllib3.Timeout(connect=10, read=60),
    )
    assert response.status == 200
    # The XML declaration goes out at once, then a space every 0.2 s while
    # the masking runs: the first space after it says masking is under way.
    head = b""
    while not (b"?>" in head and head.endswith(b" ") and head.rindex(b" ") > head.index(b"?>")):
        byte = response.read(1)
        assert byte and b"<Complete" not in head and b"<Error" not in head, head
        head += byte
    os.kill(victim, signal.SIGKILL)
    rest = head + response.read()
    assert b"<Error>" in rest and b"<Code>InternalError</Code>" in rest, rest[-400:]
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key=key)
    wait_until(
        "the replacement", lambda: (s := pool_status(gw))["alive"] == 1 and victim not in s["pids"]
    )
    again = writer.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"].endswith(f'-{len(parts)}"')
    stored = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert leaked(stored, labels) == [] and leaked(data, labels)
    assert len(stored.splitlines()) == len(data.splitlines())


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--workers", "4"], {}, "--workers 4"),
        ([], {"WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY='2'"),
        (["--workers", "0"], {}, "--workers 0"),
    ],
)
def test_serve_refuses_several_server_processes(
    gw: Gateway, args: list[str], env: dict[str, str], said: str
) -> None:
    """Refused before anything starts: the port stays free, a clear message."""
    port = free_port()
    config = gw.config_path.read_text().replace(
        f"port: {urlsplit(gw.endpoint).port}", f"port: {port}"
    )
    path = gw.config_path.parent / f"several-{port}.yaml"
    path.write_text(config)
    proc_env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    proc_env.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "s3gate", "serve", "--config", str(path), *args],
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "masking.workers" in done.stderr, done.stderr
    assert "more replicas" in done.stderr
    with socket.socket() as probe:  # nothing listens there
        assert probe.connect_ex(("127.0.0.1", port)) != 0
