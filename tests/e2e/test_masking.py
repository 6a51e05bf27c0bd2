"""Masking on the wire, with real clients: what the store receives, what each
reader gets, and that refusals store nothing.

The personas are static-key services here (sessions are covered by the
identity suite); a test policy file grants them the example profiles the same
way the shipped personas get them: writers `@mask("write-default")`, analysts
`@mask("analyst-view")`, strict writers `@mask("write-strict")`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hyperscan
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e.clients import aws, rclone, s3cmd, s3cmd_config
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.tracegen import Labels, generate, json_forms

MiB = 1024 * 1024
BUCKET = "traces"
EXTRA_POLICIES = """
@id("e2e.writer-write")
@mask("write-default")
permit (principal is Service in Group::"trace-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.writer-read-back")
@mask("write-default")
permit (principal is Service in Group::"trace-writers", action in Action::"read", resource)
when { resource.bucket == "traces" };

@id("e2e.writer-list")
permit (principal is Service in Group::"trace-writers", action in Action::"list", resource)
when { resource.bucket == "traces" };

@id("e2e.strict-write")
@mask("write-strict")
permit (principal is Service in Group::"strict-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.analyst-read")
@mask("analyst-view")
permit (principal is Service in Group::"analysts", action in Action::"read", resource)
when { resource.bucket == "traces" };

@id("e2e.analyst-list")
permit (principal is Service in Group::"analysts", action in Action::"list", resource)
when { resource.bucket == "traces" };
"""
IDENTITIES = {
    "admin": ("admins",),
    "writer": ("trace-writers",),
    "strict": ("strict-writers",),
    "analyst": ("analysts",),
}


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("masking")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {"policy": {"dir": str(policies)}, "masking": {"max_record_bytes": 256 * 1024}}
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}/"


def leaked(data: bytes, labels: Labels) -> list[str]:
    """The kinds of labelled values found in `data`: one hyperscan pass over
    it for all of them (thousands of literals over tens of MiB)."""
    forms = sorted({(form, kind) for kind, value in labels.secrets for form in json_forms(value)})
    if not forms:
        return []
    db = hyperscan.Database()
    db.compile(
        expressions=[re.escape(form).encode() for form, _ in forms],
        ids=list(range(len(forms))),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(forms),
    )
    found: set[str] = set()

    def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
        found.add(forms[pid][1])

    db.scan(data, match_event_handler=on_match)
    return sorted(found)


def stored(direct: Any, key: str) -> bytes:
    body: bytes = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def staging_left(direct: Any) -> list[str]:
    """What waits under the internal prefix, but the recorded outcomes of
    completed uploads (`.../done`, kept so that a retried Complete gets the
    same answer)."""
    listed = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/mpu/")
    return [o["Key"] for o in listed.get("Contents", []) if not o["Key"].endswith("/done")]


def test_put_is_masked_before_the_store(gw: Gateway, direct: Any, prefix: str) -> None:
    data, labels = generate(300, seed=11, pii_rate=0.5)
    assert labels.secrets and leaked(data, labels)
    writer = gw.client("writer")
    put = writer.put_object(
        Bucket=BUCKET, Key=prefix + "run.jsonl", Body=data, ContentType="application/x-ndjson"
    )
    at_rest = stored(direct, prefix + "run.jsonl")
    assert leaked(at_rest, labels) == []
    # Benign values (ids, hashes, timestamps) are untouched.
    assert all(b in at_rest.decode() for b in labels.benign[:200])
    # Still one JSON record per line, same count.
    assert len(at_rest.splitlines()) == len(data.splitlines())
    assert all(json.loads(line) for line in at_rest.splitlines())
    # The PUT ETag says "rewritten" (contains '-'), so clients skip their MD5 check.
    assert "-" in put["ETag"]
    head = direct.head_object(Bucket=BUCKET, Key=prefix + "run.jsonl")
    assert head["Metadata"]["s3gate-mask-profiles"] == "write-default"
    assert "email=" in head["Metadata"]["s3gate-mask-counts"]
    assert len(head["Metadata"]["s3gate-bundle"]) == 16


def test_copy_stores_the_writers_masked_bytes(gw: Gateway, direct: Any, prefix: str) -> None:
    # A raw object written around the gateway, copied by a masked writer: what
    # CopyObject stores at the destination is masked like a PUT would be, and
    # the source stays as it was (invariant 2 for CopyObject).
    data, labels = generate(200, seed=23, pii_rate=0.5)
    assert labels.secrets and leaked(data, labels)
    direct.put_object(
        Bucket=BUCKET, Key=prefix + "raw.jsonl", Body=data, ContentType="application/x-ndjson"
    )
    gw.client("writer").copy_object(
        Bucket=BUCKET,
        Key=prefix + "copy.jsonl",
        CopySource={"Bucket": BUCKET, "Key": prefix + "raw.jsonl"},
    )
    at_rest = stored(direct, prefix + "copy.jsonl")
    assert leaked(at_rest, labels) == []
    assert len(at_rest.splitlines()) == len(data.splitlines())
    head = direct.head_object(Bucket=BUCKET, Key=prefix + "copy.jsonl")
    assert head["Metadata"]["s3gate-mask-profiles"] == "write-default"
    assert stored(direct, prefix + "raw.jsonl") == data


def test_unchanged_content_keeps_its_md5_etag(gw: Gateway, prefix: str) -> None:
    body = b'{"step": 1, "thought": "nothing sensitive here"}\n'
    put = gw.client("writer").put_object(Bucket=BUCKET, Key=prefix + "clean.jsonl", Body=body)
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


def test_analyst_view_is_consistent(gw: Gateway, direct: Any, prefix: str, tmp_path: Path) -> None:
    data, labels = generate(9_000, seed=12, pii_rate=0.2)  # ~20 MiB: multi-part download
    assert len(data) > 16 * MiB
    direct.put_object(Bucket=BUCKET, Key=prefix + "raw.jsonl", Body=data)
    analyst = gw.client("analyst")
    first = analyst.get_object(Bucket=BUCKET, Key=prefix + "raw.jsonl")
    view = first["Body"].read()
    assert leaked(view, labels) == []
    # No view yet: the first GET got it as it was made, with no ETag or
    # length (test_live_views.py); from now on it is read from the store.
    assert "ETag" not in first
    got = analyst.get_object(Bucket=BUCKET, Key=prefix + "raw.jsonl")
    assert got["Body"].read() == view and got["ContentLength"] == len(view)
    assert got["ETag"] == f'"{hashlib.md5(view).hexdigest()}"'
    head = analyst.head_object(Bucket=BUCKET, Key=prefix + "raw.jsonl")
    assert head["ContentLength"] == len(view)
    assert head["ETag"] == got["ETag"]
    part = analyst.get_object(Bucket=BUCKET, Key=prefix + "raw.jsonl", Range="bytes=1000-1999")
    assert part["Body"].read() == view[1000:2000]
    assert part["ContentRange"] == f"bytes 1000-1999/{len(view)}"
    with pytest.raises(ClientError) as exc:
        analyst.get_object(Bucket=BUCKET, Key=prefix + "raw.jsonl", IfNoneMatch=got["ETag"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    # boto3's multi-part download: HEAD, then ranged GETs with If-Match.
    out = io.BytesIO()
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    analyst.download_fileobj(BUCKET, prefix + "raw.jsonl", out, Config=cfg)
    assert out.getvalue() == view
    # The aws CLI likewise.
    target = tmp_path / "view.jsonl"
    aws(gw, "s3", "cp", f"s3://{BUCKET}/{prefix}raw.jsonl", str(target), identity="analyst")
    assert target.read_bytes() == view


def test_tokens_join_across_objects(gw: Gateway, direct: Any, prefix: str) -> None:
    email = "jane.doe@example.com"
    for name in ("a.jsonl", "b.jsonl"):
        record = {"customer_id": "C-1001", "note": f"contact {email} about {name}"}
        direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=json.dumps(record).encode())
    analyst = gw.client("analyst")
    views = [
        json.loads(analyst.get_object(Bucket=BUCKET, Key=prefix + n)["Body"].read())
        for n in ("a.jsonl", "b.jsonl")
    ]
    assert all(email not in json.dumps(v) and "C-1001" not in json.dumps(v) for v in views)
    assert views[0]["customer_id"] == views[1]["customer_id"]
    token_a = views[0]["note"].split()[1]
    assert token_a == views[1]["note"].split()[1]


def test_object_change_gives_a_new_view(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "changing.jsonl"
    direct.put_object(Bucket=BUCKET, Key=key, Body=b'{"v": 1, "mail": "a@example.com"}\n')
    analyst = gw.client("analyst")
    first = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    direct.put_object(Bucket=BUCKET, Key=key, Body=b'{"v": 2, "mail": "b@example.com"}\n')
    second = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert b'"v": 2' in second and first != second


def test_multipart_cli_upload_is_masked_as_one_object(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    data, labels = generate(9_000, seed=13, pii_rate=0.2)  # ~20 MiB: three parts
    src = tmp_path / "big.jsonl"
    src.write_bytes(data)
    aws(gw, "s3", "cp", str(src), f"s3://{BUCKET}/{prefix}big.jsonl", identity="writer")
    at_rest = stored(direct, prefix + "big.jsonl")
    assert leaked(at_rest, labels) == []
    # Records cut by the 8 MiB part boundaries were masked whole.
    lines = at_rest.splitlines()
    assert len(lines) == len(data.splitlines())
    assert all(json.loads(line) for line in lines)
    assert staging_left(direct) == []


def test_staged_parts_are_encrypted_and_abort_cleans(gw: Gateway, direct: Any, prefix: str) -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    body = (json.dumps({"note": f"key {secret}"}) + "\n").encode() * 1000
    writer = gw.client("writer")
    up = writer.create_multipart_upload(Bucket=BUCKET, Key=prefix + "mp.jsonl")
    uid = up["UploadId"]
    etag = writer.upload_part(
        Bucket=BUCKET, Key=prefix + "mp.jsonl", UploadId=uid, PartNumber=1, Body=body
    )["ETag"]
    assert etag == f'"{hashlib.md5(body).hexdigest()}"'
    parts = writer.list_parts(Bucket=BUCKET, Key=prefix + "mp.jsonl", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, len(body))]
    staged = staging_left(direct)
    assert staged, "parts wait in the internal prefix"
    for key in staged:
        assert secret.encode() not in stored(direct, key)
    with pytest.raises(ClientError):  # the internal prefix is not addressable
        gw.client("admin").get_object(Bucket=BUCKET, Key=staged[0])
    writer.abort_multipart_upload(Bucket=BUCKET, Key=prefix + "mp.jsonl", UploadId=uid)
    assert staging_left(direct) == []
    with pytest.raises(ClientError) as exc:
        writer.list_parts(Bucket=BUCKET, Key=prefix + "mp.jsonl", UploadId=uid)
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"


def test_staged_uploads_are_listed_with_the_ones_in_the_store(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    # Masked uploads wait in the gateway, not in the store; ListMultipartUploads
    # shows them beside the store's own, with the ids the clients were given,
    # pages through both, and an aborted one is gone.
    writer = gw.client("writer")
    staged = [
        (prefix + k, writer.create_multipart_upload(Bucket=BUCKET, Key=prefix + k)["UploadId"])
        for k in ("b.jsonl", "a.jsonl", "a.jsonl")
    ]
    plain = direct.create_multipart_upload(Bucket=BUCKET, Key=prefix + "c.bin")["UploadId"]
    everything = sorted([*staged, (prefix + "c.bin", plain)])
    listed = writer.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == everything
    assert not listed["IsTruncated"]

    walked: list[tuple[str, str]] = []
    marks: dict[str, str] = {}
    while True:
        page = writer.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix, MaxUploads=1, **marks)
        walked += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        marks = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert walked == everything

    cli = aws(
        gw,
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        BUCKET,
        "--prefix",
        prefix,
        identity="writer",
    )
    assert (
        sorted((u["Key"], u["UploadId"]) for u in json.loads(cli.stdout)["Uploads"]) == everything
    )

    key, upload_id = staged[0]
    writer.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    after = writer.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    assert (key, upload_id) not in [(u["Key"], u["UploadId"]) for u in after["Uploads"]]
    for key, upload_id in staged[1:]:
        writer.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    direct.abort_multipart_upload(Bucket=BUCKET, Key=prefix + "c.bin", UploadId=plain)
    assert writer.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []) == []


def test_blocked_object_stores_nothing(gw: Gateway, direct: Any, prefix: str) -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAx1\\n-----END RSA PRIVATE KEY-----"
    body = ('{"tool_result": "' + pem + '"}\n').encode()
    with pytest.raises(ClientError) as exc:
        gw.client("strict").put_object(Bucket=BUCKET, Key=prefix + "leak.jsonl", Body=body)
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert "write-strict:" in err["Message"] and "MIIE" not in err["Message"]
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key=prefix + "leak.jsonl")


def test_gzip_trace_is_masked_inside(gw: Gateway, direct: Any, prefix: str) -> None:
    data, labels = generate(500, seed=14, pii_rate=0.5)
    gw.client("writer").put_object(
        Bucket=BUCKET, Key=prefix + "run.jsonl.gz", Body=gzip.compress(data)
    )
    at_rest = stored(direct, prefix + "run.jsonl.gz")
    plain = gzip.decompress(at_rest)
    assert leaked(plain, labels) == []
    assert len(plain.splitlines()) == len(data.splitlines())


def test_malformed_json_falls_back_to_text(gw: Gateway, direct: Any, prefix: str) -> None:
    body = b'{"ok": 1}\n{"broken": "mail me at jo@example.com\n'
    gw.client("writer").put_object(
        Bucket=BUCKET, Key=prefix + "bad.jsonl", Body=body, ContentType="application/x-ndjson"
    )
    assert b"jo@example.com" not in stored(direct, prefix + "bad.jsonl")


def test_oversized_record_is_refused(gw: Gateway, direct: Any, prefix: str) -> None:
    body = json.dumps({"blob": "x" * (300 * 1024)}).encode() + b"\n"
    with pytest.raises(ClientError) as exc:
        gw.client("writer").put_object(Bucket=BUCKET, Key=prefix + "huge.jsonl", Body=body)
    assert exc.value.response["Error"]["Code"] == "EntityTooLarge"
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key=prefix + "huge.jsonl")


def test_rclone_and_s3cmd_round_trips(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    data, labels = generate(2000, seed=15, pii_rate=0.5)
    src = tmp_path / "t.jsonl"
    src.write_bytes(data)
    # Restricted principals cannot create buckets: tell rclone not to try. Masking
    # rewrites the content on purpose, so rclone's after-upload size and hash
    # comparisons with the local file cannot hold (docs/masking.md).
    up = rclone(
        gw,
        "copyto",
        "--s3-no-check-bucket",
        "--s3-no-head",
        "--ignore-checksum",
        str(src),
        f"gw:{BUCKET}/{prefix}rclone.jsonl",
        identity="writer",
    )
    assert "ERROR" not in up.stderr and "corrupted" not in up.stderr
    cfg = s3cmd_config(gw, tmp_path, identity="writer")
    put = s3cmd(gw, cfg, "put", str(src), f"s3://{BUCKET}/{prefix}s3cmd.jsonl")
    assert "WARNING" not in put.stderr and "ERROR" not in put.stderr, put.stderr
    for key in ("rclone.jsonl", "s3cmd.jsonl"):
        assert leaked(stored(direct, prefix + key), labels) == []
    # Reading a view back: rclone and s3cmd verify the download against the ETag.
    out = tmp_path / "back.jsonl"
    down = rclone(
        gw,
        "copyto",
        f"gw:{BUCKET}/{prefix}rclone.jsonl",
        str(out),
        identity="analyst",
    )
    assert "corrupted" not in down.stderr
    assert leaked(out.read_bytes(), labels) == []
    acfg = s3cmd_config(gw, tmp_path, identity="analyst")
    get = s3cmd(gw, acfg, "get", f"s3://{BUCKET}/{prefix}s3cmd.jsonl", str(tmp_path / "s.jsonl"))
    assert "WARNING" not in get.stderr, get.stderr
