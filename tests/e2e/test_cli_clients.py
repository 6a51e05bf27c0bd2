"""The aws CLI (v1), rclone and s3cmd against the gateway, unmodified."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.e2e.clients import aws, rclone, s3cmd, s3cmd_config
from tests.e2e.harness import Gateway

MiB = 1024 * 1024


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("size", [1 * MiB, 20 * MiB])
def test_aws_s3_cp_round_trip(gateway: Gateway, bucket: str, tmp_path: Path, size: int) -> None:
    src = _file(tmp_path / "in.bin", size)
    aws(gateway, "s3", "cp", str(src), f"s3://{bucket}/data/in.bin")
    out = tmp_path / "out.bin"
    # 20 MiB downloads go as a HEAD then several ranged GETs.
    aws(gateway, "s3", "cp", f"s3://{bucket}/data/in.bin", str(out))
    assert _sha(out) == _sha(src)
    listing = aws(gateway, "s3", "ls", f"s3://{bucket}/data/").stdout
    assert "in.bin" in listing and str(size) in listing


def test_aws_s3_cp_to_stdout(gateway: Gateway, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "t.txt"
    src.write_text("hello through the gateway\n")
    aws(gateway, "s3", "cp", str(src), f"s3://{bucket}/t.txt")
    assert aws(gateway, "s3", "cp", f"s3://{bucket}/t.txt", "-").stdout == src.read_text()


def test_aws_s3_sync_ls_rm(gateway: Gateway, bucket: str, tmp_path: Path, direct: Any) -> None:
    local = tmp_path / "traces"
    for i in range(5):
        _file(local / f"run-{i}" / "trace.jsonl", 1000 + i)
    _file(local / "top.json", 10)
    # S3 times have one-second precision: files modified in the same second as
    # the upload would look newer than their copies and be uploaded again.
    past = time.time() - 3600
    for path in local.rglob("*"):
        os.utime(path, (past, past))
    aws(gateway, "s3", "sync", str(local), f"s3://{bucket}/traces/")
    # A second sync finds nothing to do: sizes and times round-trip.
    again = aws(gateway, "s3", "sync", str(local), f"s3://{bucket}/traces/").stdout
    assert "upload:" not in again
    back = tmp_path / "back"
    aws(gateway, "s3", "sync", f"s3://{bucket}/traces/", str(back))
    cmp = filecmp.dircmp(local, back)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    listing = aws(gateway, "s3", "ls", f"s3://{bucket}/", "--recursive").stdout
    assert listing.count("trace.jsonl") == 5
    aws(gateway, "s3", "rm", f"s3://{bucket}/traces/", "--recursive")
    assert direct.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_aws_s3api_calls(gateway: Gateway, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "doc.json"
    src.write_text('{"a": 1}')
    put = json.loads(
        aws(
            gateway,
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "doc.json",
            "--body",
            str(src),
            "--content-type",
            "application/json",
            "--metadata",
            "team=alpha",
        ).stdout
    )
    head = json.loads(
        aws(gateway, "s3api", "head-object", "--bucket", bucket, "--key", "doc.json").stdout
    )
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"] == {"team": "alpha"}
    assert head["ContentType"] == "application/json"
    listed = json.loads(aws(gateway, "s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["doc.json"]
    out = tmp_path / "got.json"
    aws(gateway, "s3api", "get-object", "--bucket", bucket, "--key", "doc.json", str(out))
    assert out.read_text() == '{"a": 1}'
    aws(gateway, "s3api", "delete-object", "--bucket", bucket, "--key", "doc.json")
    missing = aws(
        gateway, "s3api", "head-object", "--bucket", bucket, "--key", "doc.json", check=False
    )
    assert missing.returncode != 0 and "404" in missing.stderr


def test_aws_s3_presign(gateway: Gateway, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "p.txt"
    src.write_text("presigned body")
    aws(gateway, "s3", "cp", str(src), f"s3://{bucket}/p.txt")
    url = aws(
        gateway, "s3", "presign", f"s3://{bucket}/p.txt", "--expires-in", "120"
    ).stdout.strip()
    resp = urllib3.request("GET", url, retries=False)
    assert resp.status == 200 and resp.data == b"presigned body"


def test_rclone_copy_sync_lsf_cat_check(gateway: Gateway, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "src"
    for i in range(4):
        _file(local / f"d{i % 2}" / f"f{i}.bin", 5000 * (i + 1))
    _file(local / "big.bin", 3 * MiB)
    proc = rclone(gateway, "copy", str(local), f"gw:{bucket}/copy")
    assert "ERROR" not in proc.stderr
    lsf = rclone(gateway, "lsf", "-R", f"gw:{bucket}/copy").stdout.split()
    assert sorted(lsf) == sorted(
        ["big.bin", "d0/", "d1/", "d0/f0.bin", "d0/f2.bin", "d1/f1.bin", "d1/f3.bin"]
    )
    # `check` compares sizes and MD5 hashes (the ETags) of every file.
    check = rclone(gateway, "check", str(local), f"gw:{bucket}/copy")
    assert "0 differences found" in check.stderr
    (local / "d0" / "f0.bin").unlink()
    _file(local / "new.bin", 100)
    rclone(gateway, "sync", str(local), f"gw:{bucket}/copy")
    lsf = rclone(gateway, "lsf", "-R", "--files-only", f"gw:{bucket}/copy").stdout.split()
    assert "d0/f0.bin" not in lsf and "new.bin" in lsf
    out = tmp_path / "back"
    rclone(gateway, "copy", f"gw:{bucket}/copy", str(out))
    assert _sha(out / "big.bin") == _sha(local / "big.bin")


def test_rclone_cat(gateway: Gateway, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "hello.txt"
    src.write_text("hello from rclone\n")
    rclone(gateway, "copyto", str(src), f"gw:{bucket}/hello.txt")
    assert rclone(gateway, "cat", f"gw:{bucket}/hello.txt").stdout == "hello from rclone\n"


@pytest.mark.parametrize("size", [1 * MiB, 12 * MiB])
def test_s3cmd_put_get_ls_del(gateway: Gateway, bucket: str, tmp_path: Path, size: int) -> None:
    cfg = s3cmd_config(gateway, tmp_path)
    src = _file(tmp_path / "in.bin", size)
    put = s3cmd(gateway, cfg, "put", str(src), f"s3://{bucket}/s3cmd/in.bin")
    assert "WARNING" not in put.stderr and "ERROR" not in put.stderr, put.stderr
    ls = s3cmd(gateway, cfg, "ls", f"s3://{bucket}/s3cmd/").stdout
    assert f"s3://{bucket}/s3cmd/in.bin" in ls
    out = tmp_path / "out.bin"
    get = s3cmd(gateway, cfg, "get", f"s3://{bucket}/s3cmd/in.bin", str(out))
    assert "WARNING" not in get.stderr and "ERROR" not in get.stderr, get.stderr
    assert _sha(out) == _sha(src)
    s3cmd(gateway, cfg, "del", f"s3://{bucket}/s3cmd/in.bin")
    assert (
        f"s3://{bucket}/s3cmd/in.bin"
        not in s3cmd(gateway, cfg, "ls", f"s3://{bucket}/s3cmd/").stdout
    )
