"""Every S3 operation of the foundation, through the gateway, with boto3.

Each test runs twice: with boto3's default checksum behaviour (CRC32 trailers
on uploads, checksum mode on downloads) and with `when_required`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.harness import Gateway
from tests.promtext import Samples, samples

MiB = 1024 * 1024


@pytest.fixture(params=["when_supported", "when_required"])
def client(request: pytest.FixtureRequest, gateway: Gateway) -> Any:
    return gateway.client(
        "admin",
        request_checksum_calculation=request.param,
        response_checksum_validation=request.param,
    )


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_buckets(client: Any, bucket: str) -> None:
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert bucket in names
    client.head_bucket(Bucket=bucket)
    assert client.get_bucket_location(Bucket=bucket)["LocationConstraint"] in (None, "")
    with pytest.raises(ClientError) as exc:
        client.head_bucket(Bucket="no-such-bucket-s3gate")
    assert exc.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    with pytest.raises(ClientError) as exc:
        client.list_objects_v2(Bucket="no-such-bucket-s3gate")
    assert code_of(exc) == "NoSuchBucket"


def test_create_and_delete_bucket(client: Any, direct: Any) -> None:
    name = f"cd-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=name)
    direct.head_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        client.delete_bucket(Bucket=name)
    assert code_of(exc) == "BucketNotEmpty"
    client.delete_object(Bucket=name, Key="k")
    client.delete_bucket(Bucket=name)
    with pytest.raises(ClientError):
        direct.head_bucket(Bucket=name)


def test_put_get_head_with_metadata(client: Any, bucket: str, direct: Any) -> None:
    body = os.urandom(1000)
    put = client.put_object(
        Bucket=bucket,
        Key="dir/obj.bin",
        Body=body,
        ContentType="application/x-test",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="x.bin"',
        ContentLanguage="en",
        Metadata={"team": "alpha", "run-id": "42"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = client.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "application/x-test"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"team": "alpha", "run-id": "42"}
    head = client.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == 1000
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"] == {"team": "alpha", "run-id": "42"}
    # What reached the store is exactly what was sent: no aws-chunked framing,
    # no client checksum headers.
    stored = direct.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert stored["Body"].read() == body
    assert stored.get("ContentEncoding") in (None, "")
    assert stored["ContentType"] == "application/x-test"


def test_get_errors(client: Any, bucket: str, gateway: Gateway) -> None:
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="missing")
    assert code_of(exc) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        client.head_object(Bucket=bucket, Key="missing")
    assert exc.value.response["Error"]["Code"] == "404"
    # The XML names the resource and the request id of the response header.
    resp = rawhttp.send(rawhttp.sign(gateway, "GET", f"/{bucket}/missing"))
    assert resp.status == 404
    request_id = resp.headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>".encode() in resp.data
    assert f"<Resource>/{bucket}/missing</Resource>".encode() in resp.data
    assert b"<Code>NoSuchKey</Code>" in resp.data


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=0-9", (0, 10)), ("bytes=10-", (10, 1000)), ("bytes=-5", (995, 1000))],
)
def test_ranged_get(client: Any, bucket: str, header: str, expected: tuple[int, int]) -> None:
    body = os.urandom(1000)
    client.put_object(Bucket=bucket, Key="r", Body=body)
    got = client.get_object(Bucket=bucket, Key="r", Range=header)
    start, end = expected
    assert got["Body"].read() == body[start:end]
    assert got["ContentRange"] == f"bytes {start}-{end - 1}/1000"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_unsatisfiable_range(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="r", Body=b"abc")
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert code_of(exc) == "InvalidRange"


def test_conditional_get(client: Any, bucket: str) -> None:
    etag = client.put_object(Bucket=bucket, Key="c", Body=b"hello")["ETag"]
    assert client.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"hello"
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    got = client.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)
    assert got["Body"].read() == b"hello"


def test_delete_and_delete_objects(client: Any, bucket: str, direct: Any) -> None:
    for key in ("a", "b", "c"):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    client.delete_object(Bucket=bucket, Key="a")
    client.delete_object(Bucket=bucket, Key="never-existed")
    result = client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["b", "c", "zz"]
    assert direct.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(client: Any, bucket: str) -> None:
    client.put_object(
        Bucket=bucket, Key="src", Body=b"data", ContentType="text/plain", Metadata={"m": "1"}
    )
    res = client.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert res["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"data").hexdigest()}"'
    got = client.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"data"
    assert got["Metadata"] == {"m": "1"}
    client.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"m": "2"},
    )
    head = client.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"m": "2"}
    assert head["ContentType"] == "application/json"
    with pytest.raises(ClientError) as exc:
        client.copy_object(Bucket=bucket, Key="d3", CopySource={"Bucket": bucket, "Key": "nope"})
    assert code_of(exc) == "NoSuchKey"


ODD_KEYS = [
    "plain.txt",
    "with space/and+plus.json",
    "unicode/日本語/ü.jsonl",
    "percent%2Fliteral",
    "question?mark#hash",
    "trailing/",
    "double//slash",
    "quote'and\"dq&amp<>",
    "~tilde!*()",
]


def test_odd_keys_round_trip(client: Any, bucket: str) -> None:
    for i, key in enumerate(ODD_KEYS):
        client.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed, key=lambda k: k.encode()) == sorted(ODD_KEYS, key=lambda k: k.encode())
    listed_v1 = [o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"]]
    assert sorted(listed_v1) == sorted(ODD_KEYS)
    for i, key in enumerate(ODD_KEYS):
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == str(i).encode()
        client.copy_object(
            Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key}
        )
        client.delete_object(Bucket=bucket, Key=key)
    assert len(client.list_objects_v2(Bucket=bucket)["Contents"]) == len(ODD_KEYS)


def test_listing_pagination_v2_and_v1(client: Any, bucket: str) -> None:
    keys = [f"p/{d}/{i:02d}" for d in ("a", "b", "c") for i in range(3)] + ["p/x", "p/y", "q"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"")
    seen: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="p/", Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(seen) == ["p/a/", "p/b/", "p/c/", "p/x", "p/y"]
    assert len(seen) == len(set(seen))
    flat = []
    for page in client.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}
    ):
        flat += [o["Key"] for o in page.get("Contents", [])]
    assert flat == sorted(keys)
    res = client.list_objects_v2(Bucket=bucket, StartAfter="p/c/02", Prefix="p/")
    assert [o["Key"] for o in res["Contents"]] == ["p/x", "p/y"]


def test_multipart_20mib_transfer(client: Any, bucket: str, direct: Any) -> None:
    data = os.urandom(20 * MiB)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    client.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=cfg)
    head = client.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    client.download_fileobj(bucket, "big.bin", out, Config=cfg)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
    assert hashlib.sha256(
        direct.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    ).digest() == (hashlib.sha256(data).digest())


def test_multipart_low_level(client: Any, bucket: str) -> None:
    up = client.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/plain")
    uid = up["UploadId"]
    uploads = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", uid)]
    part1 = os.urandom(5 * MiB)
    e1 = client.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    e2 = client.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"tail")[
        "ETag"
    ]
    parts = client.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, e1, 5 * MiB),
        (2, e2, 4),
    ]
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    md5s = b"".join(bytes.fromhex(e.strip('"')) for e in (e1, e2))
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    got = client.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == part1 + b"tail"
    assert got["ContentType"] == "text/plain"

    up2 = client.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    client.upload_part(Bucket=bucket, Key="aborted", UploadId=up2, PartNumber=1, Body=b"x")
    client.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=up2)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as exc:
        client.list_parts(Bucket=bucket, Key="aborted", UploadId=up2)
    assert code_of(exc) == "NoSuchUpload"


def test_presigned_get_with_plain_http(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="shared/report.json", Body=b'{"ok": true}')
    url = client.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "shared/report.json",
            "ResponseContentType": "application/json",
        },
        ExpiresIn=300,
    )
    resp = urllib3.request("GET", url, retries=False)
    assert resp.status == 200
    assert resp.data == b'{"ok": true}'
    assert resp.headers["content-type"] == "application/json"
    tampered = url.replace("shared/report.json", "shared/other.json")
    resp = urllib3.request("GET", tampered, retries=False)
    assert resp.status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in resp.data


@pytest.mark.parametrize(
    "call",
    [
        # (Bucket versioning is implemented: tests/e2e/test_versions.py.)
        lambda c, b: c.put_bucket_policy(Bucket=b, Policy="{}"),
        lambda c, b: c.get_bucket_lifecycle_configuration(Bucket=b),
    ],
)
def test_unimplemented_operations_answer_501(client: Any, bucket: str, call: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(client, bucket)
    assert code_of(exc) == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def _access_lines(gateway: Gateway, request_id: str) -> list[dict[str, Any]]:
    lines = []
    for line in gateway.log().splitlines():
        if line.startswith("{") and request_id in line:
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                lines.append(entry)
    return lines


@pytest.mark.parametrize("size", [1_000, 200_000])  # answered whole / streamed
def test_one_access_log_line_per_request(gateway: Gateway, bucket: str, size: int) -> None:
    who = gateway.identities["admin"]
    client = gateway.client("admin")
    body = os.urandom(size)
    put = client.put_object(Bucket=bucket, Key=f"logged/{size}", Body=body)
    got = client.get_object(Bucket=bucket, Key=f"logged/{size}")
    assert got["Body"].read() == body
    entries: dict[str, dict[str, Any]] = {}
    for meta in (put["ResponseMetadata"], got["ResponseMetadata"]):
        rid = meta["RequestId"]
        deadline = time.monotonic() + 10  # written once the body has gone
        while not (found := _access_lines(gateway, rid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(found) == 1, found
        entries[rid] = found[0]
    put_entry = entries[put["ResponseMetadata"]["RequestId"]]
    get_entry = entries[got["ResponseMetadata"]["RequestId"]]
    assert put_entry["operation"] == "PutObject" and get_entry["operation"] == "GetObject"
    for entry in (put_entry, get_entry):
        assert entry["bucket"] == bucket and entry["key"] == f"logged/{size}"
        assert entry["status"] == 200 and entry["duration_ms"] >= 0
        assert entry["principal"] == "admin"
    assert put_entry["bytes_in"] == size
    assert get_entry["bytes_out"] == size
    text = gateway.log()
    assert who.secret_access_key not in text
    assert "Signature=" not in text
    assert body[:32].hex() not in text and "body_out" not in text


def _metrics(gateway: Gateway) -> Samples:
    resp = urllib3.request("GET", f"{gateway.endpoint}/_s3gate/metrics", retries=False)
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/plain")
    return samples(resp.data.decode())


def test_metrics_count_what_clients_did(gateway: Gateway, bucket: str) -> None:
    """/_s3gate/metrics (Prometheus text): requests by operation and status,
    body bytes both ways, counted once the answer has gone; the audit
    backlog and spool state as the readiness check sees them."""
    client = gateway.client("admin")

    def requests(op: str, status: str) -> float:
        return metrics.get(("s3gate_requests_total", (("operation", op), ("status", status))), 0)

    metrics = _metrics(gateway)
    puts, gets = requests("PutObject", "200"), requests("GetObject", "200")
    missing = requests("GetObject", "404")
    received = metrics[("s3gate_received_bytes_total", ())]
    sent = metrics[("s3gate_sent_bytes_total", ())]
    body = os.urandom(150_000)  # streamed back
    client.put_object(Bucket=bucket, Key="metered", Body=body)
    assert client.get_object(Bucket=bucket, Key="metered")["Body"].read() == body
    with pytest.raises(ClientError):
        client.get_object(Bucket=bucket, Key="never-written")
    deadline = time.monotonic() + 10  # counted when the body has gone
    while True:
        metrics = _metrics(gateway)
        if requests("GetObject", "200") == gets + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert requests("PutObject", "200") == puts + 1
    assert requests("GetObject", "200") == gets + 1
    assert requests("GetObject", "404") == missing + 1
    assert metrics[("s3gate_received_bytes_total", ())] == received + len(body)
    assert metrics[("s3gate_sent_bytes_total", ())] == sent + len(body)
    assert metrics[("s3gate_audit_spool_writable", ())] == 1
    assert ("s3gate_audit_backlog_events", ()) in metrics
