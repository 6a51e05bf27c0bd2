"""Masked objects larger than one PUT, and a client that leaves mid-write.

A masked whole above `masking.upstream_multipart_above_bytes` goes to the
store as a multipart upload of its own: the store's `…-N` ETag is what the
writer gets and what HEAD and listings show; a failure part-way leaves
neither an object nor an upload in progress. A masked PutObject whose client
disconnects before the store has its bytes stores nothing and is audited as
499, so only the client's retry lands.

The thresholds are lowered (multipart above 16 MiB, parts of 5 MiB, S3's
smallest), so tens of MiB stand for tens of GiB. The store is moto behind a
door in this process (`Door`, moto's own WSGI app, like
recording_upstream.py) that can fail one part with a 500 or hold a PUT
unread until the test lets it go, as a slow store would.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from tests.e2e.harness import POLICIES, REGION, Gateway, free_port, start_gateway, wait_http
from tests.e2e.rawhttp import sign
from tests.e2e.test_audit import S3GATE, shipped_events
from tests.e2e.test_masking import EXTRA_POLICIES, IDENTITIES, leaked
from tests.tracegen import Labels, generate

MiB = 1024 * 1024
BUCKET = "traces"
PART = 5 * MiB
ABOVE = 16 * MiB
FAILED = b"<Error><Code>InternalError</Code><Message>door</Message></Error>"


class Door:
    """moto's app on a port of its own (the same in-process state the
    `direct` client sees), with two faults a test can arm per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail: set[tuple[str, int]] = set()  # (key, part number) answered 500
        self._hold: set[str] = set()  # the next PUT of these keys waits for `release`
        self.held = threading.Event()  # a held PUT has arrived
        self.release = threading.Event()
        self.let_go = threading.Event()  # the held PUT has been answered
        self.forwarded: list[str] = []  # keys of PUTs (objects and parts) moto got
        self._app = DomainDispatcherApplication(create_backend_app)
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        wait_http(f"{self.endpoint}/moto-api/")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_part(self, key: str, number: int) -> None:
        with self._lock:
            self._fail.add((key, number))

    def hold_next_put(self, key: str) -> None:
        with self._lock:
            self._hold.add(key)
            self.held.clear()
            self.release.clear()
            self.let_go.clear()

    def _wsgi(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        key = path.removeprefix(f"/{BUCKET}/")
        if environ["REQUEST_METHOD"] != "PUT" or key == path:
            result: Iterable[bytes] = self._app(environ, start)
            return result
        query = parse_qs(environ.get("QUERY_STRING", ""))
        number = int(query.get("partNumber", ["0"])[0])
        with self._lock:
            failing = (key, number) in self._fail
            holding = key in self._hold
            self._hold.discard(key)
        if holding:
            self.held.set()
            self.release.wait(60)
        try:
            body = _read(environ)
            if failing:
                start("500 Internal Server Error", [("Content-Type", "application/xml")])
                return [FAILED]
            if body is None:  # cut short by the sender: S3 stores nothing
                start("400 Bad Request", [("Content-Type", "application/xml")])
                return [b"<Error><Code>IncompleteBody</Code></Error>"]
            with self._lock:
                self.forwarded.append(key)
            environ["wsgi.input"] = io.BytesIO(body)
            result = self._app(environ, start)
            return result
        finally:
            if holding:
                self.let_go.set()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _read(environ: dict[str, Any]) -> bytes | None:
    """The whole declared body, or None when the connection ends first."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    got = bytearray()
    try:
        while len(got) < length:
            piece = stream.read(min(MiB, length - len(got)))
            if not piece:
                return None
            got += piece
    except OSError:
        return None
    return bytes(got)


@pytest.fixture(scope="module")
def door(moto_endpoint: str) -> Iterator[Door]:  # moto's state exists once moto runs
    d = Door()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("large-keys")
    subprocess.run(
        [*S3GATE, "keys", "generate", "--out", str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="module")
def gw(
    door: Door, direct: Any, keys: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("masked-large")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    replica = f"large-e2e-{uuid.uuid4().hex[:8]}"
    extra = {
        "policy": {"dir": str(policies)},
        "masking": {
            "max_record_bytes": 256 * 1024,
            "upstream_multipart_above_bytes": ABOVE,
            "upstream_part_bytes": PART,
        },
        "audit": {
            "signing_keys": [str(p) for p in sorted(keys.glob("*.private.pem"))],
            "replica_id": replica,
            "batch_max_seconds": 0.3,
        },
    }
    gateway = start_gateway(folder, door.endpoint, IDENTITIES, extra=extra)
    gateway.replica = replica  # type: ignore[attr-defined]
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}/"


def traces(size: int, seed: int) -> tuple[bytes, Labels]:
    """About `size` bytes (within a few %) of traces, a tenth of the records
    with PII: the record count is estimated from a sample of this seed."""
    sample, _ = generate(500, seed=seed, pii_rate=0.1)
    data, labels = generate(max(1, size * 500 // len(sample)), seed=seed, pii_rate=0.1)
    assert abs(len(data) - size) < size // 8, (len(data), size)
    return data, labels


def nothing_stored(direct: Any, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        direct.head_object(Bucket=BUCKET, Key=key)
    assert exc.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    uploads = direct.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
    assert uploads == []


def events_for(
    gw: Gateway, moto_endpoint: str, keys: Path, key: str, done: Callable[[list[Any]], bool]
) -> list[dict[str, Any]]:
    """The audit events of `key` once `done(events)` (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            events = shipped_events(moto_endpoint, keys, gw.replica)  # type: ignore[attr-defined]
        except AssertionError:
            events = []
        found = [e for e in events if e.get("key") == key]
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_large_masked_put_goes_up_in_parts(
    gw: Gateway, direct: Any, moto_endpoint: str, keys: Path, prefix: str
) -> None:
    data, labels = traces(ABOVE + 3 * MiB, seed=41)
    key = prefix + "big.jsonl"
    writer = gw.client("writer")
    put = writer.put_object(Bucket=BUCKET, Key=key, Body=data)
    at_rest = direct.get_object(Bucket=BUCKET, Key=key)
    stored = at_rest["Body"].read()
    assert leaked(stored, labels) == [] and leaked(data, labels) != []
    assert len(stored.splitlines()) == len(data.splitlines())
    parts = -(-len(stored) // PART)
    # The store's multipart ETag, everywhere.
    assert at_rest["ETag"].endswith(f'-{parts}"') and parts >= 4
    assert put["ETag"] == at_rest["ETag"]
    admin = gw.client("admin")  # reads the stored object as it is
    assert admin.head_object(Bucket=BUCKET, Key=key)["ETag"] == at_rest["ETag"]
    listed = admin.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [
        (key, at_rest["ETag"], len(stored))
    ]
    # The writer reads back through its profile (a read view): HEAD, GET and
    # the listing agree on that view's ETag and size.
    head = writer.head_object(Bucket=BUCKET, Key=key)
    got = writer.get_object(Bucket=BUCKET, Key=key)
    mine = writer.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]
    assert head["ETag"] == got["ETag"] == mine[0]["ETag"]
    assert head["ContentLength"] == len(got["Body"].read()) == mine[0]["Size"]
    assert direct.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", []) == []
    # The analyst's view is made from it as from any masked object.
    view = gw.client("analyst").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert leaked(view, labels) == [] and len(view.splitlines()) == len(data.splitlines())
    # Views this large go up in parts too.
    views = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/views/").get("Contents", [])
    mine = [o for o in views if f"/{key}/" in o["Key"] and o["Size"] > ABOVE]
    assert mine and all(o["ETag"].endswith(f'-{-(-o["Size"] // PART)}"') for o in mine)
    # The audit trail has the SHA-256 of the bytes the store holds.
    want = hashlib.sha256(stored).hexdigest()
    events = events_for(
        gw, moto_endpoint, keys, key, lambda f: any(e.get("sha256_stored") for e in f)
    )
    puts = [e for e in events if e.get("operation") == "PutObject"]
    assert [(e["status"], e["sha256_stored"]) for e in puts] == [(200, want)]


def test_a_large_masked_multipart_upload_goes_up_in_parts(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    data, labels = traces(ABOVE + 2 * MiB, seed=42)
    key = prefix + "mpu.jsonl"
    writer = gw.client("writer")
    uid = writer.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    sent = []
    for number, start in enumerate(range(0, len(data), 8 * MiB), start=1):
        etag = writer.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=uid,
            PartNumber=number,
            Body=data[start : start + 8 * MiB],
        )["ETag"]
        sent.append({"PartNumber": number, "ETag": etag})
    done = writer.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": sent}
    )
    at_rest = direct.get_object(Bucket=BUCKET, Key=key)
    stored = at_rest["Body"].read()
    assert leaked(stored, labels) == []
    parts = -(-len(stored) // PART)
    assert at_rest["ETag"].endswith(f'-{parts}"') and parts != len(sent)
    assert done["ETag"] == at_rest["ETag"]
    assert gw.client("admin").head_object(Bucket=BUCKET, Key=key)["ETag"] == at_rest["ETag"]
    assert direct.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", []) == []


def test_a_part_the_store_refuses_leaves_nothing(
    gw: Gateway, door: Door, direct: Any, prefix: str
) -> None:
    data, _ = traces(ABOVE + 3 * MiB, seed=43)
    key = prefix + "refused.jsonl"
    door.fail_part(key, 2)
    with pytest.raises(ClientError) as exc:
        once(gw, "writer").put_object(Bucket=BUCKET, Key=key, Body=data)
    assert exc.value.response["Error"]["Code"] == "InternalError"
    assert door.forwarded.count(key) == 1  # part 1 reached the store, then was aborted
    nothing_stored(direct, key)


def once(gw: Gateway, identity: str) -> Any:
    """A client that sends each request exactly once (no retry)."""
    who = gw.identities[identity]
    return boto3.client(
        "s3",
        endpoint_url=gw.endpoint,
        aws_access_key_id=who.access_key_id,
        aws_secret_access_key=who.secret_access_key,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def raw_put(gw: Gateway, key: str, body: bytes) -> socket.socket:
    """A signed masked PUT sent whole on a raw socket, left open."""
    path = f"/{BUCKET}/{key}"
    request = sign(gw, "PUT", path, body=body, identity="writer")
    netloc = urlsplit(gw.endpoint).netloc
    lines = [f"PUT {path} HTTP/1.1", f"Host: {netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", int(netloc.rpartition(":")[2])), timeout=60)
    sock.sendall(head + body)
    return sock


@pytest.mark.parametrize("size", [10 * MiB, ABOVE + 4 * MiB], ids=["one-put", "in-parts"])
def test_a_client_that_leaves_mid_write_stores_nothing_and_its_retry_lands(
    gw: Gateway,
    door: Door,
    direct: Any,
    moto_endpoint: str,
    keys: Path,
    prefix: str,
    size: int,
) -> None:
    data, labels = traces(size, seed=44)
    key = prefix + "retried.jsonl"
    door.hold_next_put(key)
    sock = raw_put(gw, key, data)
    try:
        # The body is read and masked; the store is slow to take it.
        assert door.held.wait(60)
    finally:
        sock.close()  # the client's read timeout
    time.sleep(1.5)  # the gateway notices and cuts its upload
    door.release.set()
    assert door.let_go.wait(60)
    nothing_stored(direct, key)
    # The client's retry is the one write that lands.
    put = gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=data)
    stored = direct.get_object(Bucket=BUCKET, Key=key)
    # (One PUT: the masked-PUT convention, the stored MD5 with `-1`.)
    assert put["ETag"] in (stored["ETag"], stored["ETag"][:-1] + '-1"')
    assert leaked(stored["Body"].read(), labels) == []
    events = events_for(
        gw,
        moto_endpoint,
        keys,
        key,
        lambda f: len([e for e in f if e.get("operation") == "PutObject"]) >= 2,
    )
    puts = sorted(
        (e["status"], e.get("error_code"), bool(e.get("sha256_stored")))
        for e in events
        if e.get("operation") == "PutObject"
    )
    assert puts == [(200, None, True), (499, "ClientClosedRequest", False)], puts
