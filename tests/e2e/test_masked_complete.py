"""CompleteMultipartUpload of a masked upload that takes longer than the
client's read timeout: answered 200 at once, kept alive with spaces, the
result (or an `<Error>`) at the end; completed once, stored once, masked
once, however often and however concurrently it is asked.

The gateway here sends its first space after 0.2 s and the clients give up
after 1 s of silence, so an upload of a few MiB of dense traces is "long"
without a large object. Masking is counted in the audit trail: the event of
the Complete that did the work carries the masking summary; a Complete that
waited for it, or answered from the recorded outcome, does not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.clients import aws
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.test_audit import S3GATE, shipped_events
from tests.e2e.test_masking import EXTRA_POLICIES, IDENTITIES, leaked
from tests.tracegen import generate

MiB = 1024 * 1024
BUCKET = "traces"
PART = 5 * MiB
# The harness's clients do not retry: a read timeout would fail the call.
PATIENT_ONCE = {"read_timeout": 1}
PEM = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAx1\\n-----END RSA PRIVATE KEY-----"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mpu-keys")
    subprocess.run(
        [*S3GATE, "keys", "generate", "--out", str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, keys: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("masked-complete")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    replica = f"mpu-e2e-{uuid.uuid4().hex[:8]}"
    extra = {
        "policy": {"dir": str(policies)},
        "masking": {"max_record_bytes": 256 * 1024, "complete_keepalive_seconds": 0.2},
        "audit": {
            "signing_keys": [str(p) for p in sorted(keys.glob("*.private.pem"))],
            "replica_id": replica,
            "batch_max_seconds": 0.3,
        },
    }
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    gateway.replica = replica  # type: ignore[attr-defined]
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}/"


def dense(size: int, seed: int) -> tuple[bytes, Any]:
    """At least `size` bytes of traces where every record carries PII."""
    count = max(1, size // 1000)
    data, labels = generate(count, seed=seed, pii_rate=1.0)
    while len(data) < size:
        count *= 2
        data, labels = generate(count, seed=seed, pii_rate=1.0)
    return data, labels


def upload_parts(client: Any, key: str, data: bytes) -> tuple[str, list[dict[str, Any]]]:
    uid = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), PART), start=1):
        etag = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=number, Body=data[start : start + PART]
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    return uid, parts


def complete_events(gw: Gateway, moto_endpoint: str, keys: Path, key: str) -> list[dict[str, Any]]:
    """The audit events of every Complete of `key`, once all are shipped."""
    deadline = time.monotonic() + 30
    while True:
        try:
            events = shipped_events(moto_endpoint, keys, gw.replica)  # type: ignore[attr-defined]
        except AssertionError:
            events = []
        found = [
            e
            for e in events
            if e.get("operation") == "CompleteMultipartUpload" and e.get("key") == key
        ]
        finals = [e for e in found if e["type"] in ("request", "request.completion")]
        if finals and all(e["type"] != "request.decision" or _closed(e, found) for e in found):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _closed(decision: dict[str, Any], found: list[dict[str, Any]]) -> bool:
    return any(e.get("parent_id") == decision["id"] for e in found)


def masked_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] != "request.decision" and e.get("masking")]


def staged_left(direct: Any) -> list[str]:
    listed = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/mpu/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_long_complete_outlives_the_read_timeout(
    gw: Gateway, direct: Any, moto_endpoint: str, keys: Path, prefix: str
) -> None:
    data, labels = dense(3 * PART, seed=31)
    writer = gw.client("writer", **PATIENT_ONCE)
    key = prefix + "long.jsonl"
    # The parts go up with default timeouts (a loaded box may take over a
    # second for any one call); only the Complete has the 1 s read timeout.
    uid, parts = upload_parts(gw.client("writer"), key, data)
    done = writer.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"].endswith(f'-{len(parts)}"')
    at_rest = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert leaked(at_rest, labels) == []
    assert len(at_rest.splitlines()) == len(data.splitlines())
    # A Complete retried after success gets the same answer, without masking.
    again = writer.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == done["ETag"]
    events = complete_events(gw, moto_endpoint, keys, key)
    kinds = sorted(e["type"] for e in events)
    # The long one was kept alive (decision before the 200, outcome before
    # its document); the retry was answered in one go.
    assert kinds == ["request", "request.completion", "request.decision"], kinds
    assert len(masked_events(events)) == 1
    left = staged_left(direct)
    assert all(not k.startswith(".s3gate/mpu/") or k.endswith("/done") for k in left), left
    # Parts of a completed upload are refused, as S3 does.
    with pytest.raises(ClientError) as exc:
        writer.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=9, Body=b"x")
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"


def test_concurrent_completes_mask_once(
    gw: Gateway, direct: Any, moto_endpoint: str, keys: Path, prefix: str
) -> None:
    data, labels = dense(2 * PART, seed=32)
    key = prefix + "twice.jsonl"
    uid, parts = upload_parts(gw.client("writer"), key, data)
    answers: list[str] = []
    failures: list[BaseException] = []

    def complete() -> None:
        client = gw.client("writer", **PATIENT_ONCE)
        try:
            answers.append(
                client.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
                )["ETag"]
            )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=complete) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == [] and len(answers) == 3 and len(set(answers)) == 1
    assert leaked(direct.get_object(Bucket=BUCKET, Key=key)["Body"].read(), labels) == []
    events = complete_events(gw, moto_endpoint, keys, key)
    assert len([e for e in events if e["type"] != "request.decision"]) == 3
    assert len(masked_events(events)) == 1


def test_a_failure_after_the_200_is_an_error_document(
    gw: Gateway, direct: Any, moto_endpoint: str, keys: Path, prefix: str
) -> None:
    data, _ = dense(2 * PART, seed=33)
    data += ('{"tool_result": "' + PEM + '"}\n').encode()  # blocked, at the very end
    key = prefix + "leak.jsonl"
    strict = gw.client("strict", **PATIENT_ONCE)
    uid, parts = upload_parts(gw.client("strict"), key, data)
    # botocore turns an <Error> inside a 200 into a 500 (which its retry
    # logic would retry); a retry gets the recorded outcome without masking.
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            strict.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
            )
        err = exc.value.response["Error"]
        assert err["Code"] == "AccessDenied" and "MIIE" not in err["Message"]
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key=key)
    events = complete_events(gw, moto_endpoint, keys, key)
    finals = [e for e in events if e["type"] != "request.decision"]
    # Two calls; on a loaded box botocore may retry one after its 1 s read
    # timeout (max_attempts 1 is one retry): each attempt is answered, once
    # masked, always the same refusal.
    assert len(finals) >= 2
    assert all(e.get("error_code") == "AccessDenied" for e in finals), finals
    assert len(masked_events(events)) == 1


def test_aws_cli_upload_with_a_short_read_timeout(
    gw: Gateway, direct: Any, tmp_path: Path, prefix: str
) -> None:
    data, labels = dense(3 * PART, seed=34)
    src = tmp_path / "cli.jsonl"
    src.write_bytes(data)
    key = prefix + "cli.jsonl"
    aws(
        gw,
        "s3",
        "cp",
        str(src),
        f"s3://{BUCKET}/{key}",
        # Shorter than the Complete's masking takes, longer than a part's
        # upload takes on a loaded 2-core box.
        "--cli-read-timeout",
        "2",
        identity="writer",
    )
    at_rest = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert leaked(at_rest, labels) == []
    assert json.loads(at_rest.splitlines()[-1])
