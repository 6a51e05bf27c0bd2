"""Analysts' own tools as readers of masked objects, unmodified.

s3fs (`ls`, then `open`, also in small ranged blocks), pandas through s3fs,
pyarrow's S3 filesystem, `aws s3 sync` (twice: the second run copies
nothing) and rclone `copy` + `check`: each must see the same files, byte for
byte, as single GETs of the analyst's view — which only works when listings,
HEAD and GET agree on the view's size and ETag.

One object is written through the gateway (its view is made at write time),
the others straight to the store (their views are made on first use).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from pyarrow import fs as pafs

from tests.e2e.clients import analyst_python, aws, rclone
from tests.e2e.harness import POLICIES, REGION, Gateway, start_gateway
from tests.e2e.test_masked_listing import POLICY
from tests.tracegen import generate

BUCKET = "traces"
IDENTITIES = {"admin": ("admins",), "writer": ("trace-writers",), "analyst": ("analysts",)}


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("analyst-tools")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-listing.cedar").write_text(POLICY)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    extra = {"policy": {"dir": str(policies)}}
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def views(gw: Gateway, direct: Any) -> tuple[str, dict[str, bytes]]:
    """A prefix of masked traces and the analyst's view of each (single GETs)."""
    prefix = "tools/"
    bodies = {
        "day1/run-a.jsonl": generate(400, seed=31, pii_rate=0.5)[0],
        "day1/run-b.jsonl": generate(300, seed=32, pii_rate=0.5)[0],
        "day2/run-c.jsonl": generate(200, seed=33, pii_rate=0.5)[0],
    }
    writer = gw.client("writer")
    for i, (name, body) in enumerate(bodies.items()):
        if i == 0:
            writer.put_object(Bucket=BUCKET, Key=prefix + name, Body=body)
        else:
            direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=body)
    analyst = gw.client("analyst")
    out = {}
    for i, (name, body) in enumerate(bodies.items()):
        view = analyst.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        stored = direct.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        assert view != body  # masking changed every one of them
        if i > 0:  # stored raw: a listing of stored sizes would mislead every tool
            assert len(view) != len(stored)
        out[name] = view
    return prefix, out


# Runs in the analyst-tools venv (s3fs, pandas); prints what it read as JSON:
# per file, the listed size and the SHA-256 of what each way of reading gave.
S3FS_SCRIPT = """
import hashlib, io, json, os, sys
import pandas as pd
import s3fs

bucket, prefix = sys.argv[1], sys.argv[2]
opts = {
    "key": os.environ["S3GATE_E2E_KEY"],
    "secret": os.environ["S3GATE_E2E_SECRET"],
    "client_kwargs": {
        "endpoint_url": os.environ["S3GATE_E2E_ENDPOINT"],
        "region_name": "us-east-1",
    },
}
fs = s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True, **opts)
sha = lambda b: hashlib.sha256(b).hexdigest()
out = {}
for path, info in sorted(fs.find(f"{bucket}/{prefix}", detail=True).items()):
    name = path[len(bucket) + 1 + len(prefix):]
    with fs.open(path, "rb") as f:  # trusts the listing's size and ETag
        whole = f.read()
    # Small blocks: many ranged GETs, each If-Match'd on the listed ETag.
    with fs.open(path, "rb", block_size=4096, cache_type="none") as f:
        pieces = b"".join(iter(lambda: f.read(10_000), b""))
    frame = pd.read_json(f"s3://{path}", lines=True, storage_options=opts)
    out[name] = {
        "size": info["size"],
        "open": sha(whole),
        "blocks": sha(pieces),
        "range": sha(fs.cat_file(path, start=100, end=5100)),
        "pandas": frame.to_json(orient="records", lines=True),
    }
print(json.dumps(out))
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def read_by_s3fs(gw: Gateway, views: tuple[str, dict[str, bytes]]) -> dict[str, Any]:
    prefix, _ = views
    done = analyst_python(gw, S3FS_SCRIPT, BUCKET, prefix, identity="analyst")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_s3fs_ls_then_open(
    views: tuple[str, dict[str, bytes]], read_by_s3fs: dict[str, Any]
) -> None:
    _, expected = views
    assert sorted(read_by_s3fs) == sorted(expected)
    for name, view in expected.items():
        got = read_by_s3fs[name]
        assert got["size"] == len(view)
        assert got["open"] == got["blocks"] == _sha(view)
        assert got["range"] == _sha(view[100:5100])


def test_pandas_read_json_lines_through_s3fs(
    views: tuple[str, dict[str, bytes]], read_by_s3fs: dict[str, Any]
) -> None:
    _, expected = views
    for name, view in expected.items():
        # The frame pandas read through s3fs, as JSON records, against the
        # same pandas reading the view from memory.
        reference = pd.read_json(io.BytesIO(view), lines=True)
        assert read_by_s3fs[name]["pandas"] == reference.to_json(orient="records", lines=True)
        assert len(reference) == len(view.splitlines())


def test_pyarrow_filesystem(gw: Gateway, views: tuple[str, dict[str, bytes]]) -> None:
    prefix, expected = views
    who = gw.identities["analyst"]
    fs = pafs.S3FileSystem(
        access_key=who.access_key_id,
        secret_key=who.secret_access_key,
        endpoint_override=urlparse(gw.endpoint).netloc,
        scheme="http",
        region=REGION,
    )
    infos = fs.get_file_info(pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True))
    sizes = {
        i.path.removeprefix(f"{BUCKET}/{prefix}"): i.size
        for i in infos
        if i.type == pafs.FileType.File
    }
    assert sizes == {n: len(v) for n, v in expected.items()}
    for name, view in expected.items():
        with fs.open_input_file(f"{BUCKET}/{prefix}{name}") as f:
            assert f.size() == len(view)
            assert f.read() == view
            f.seek(1234)
            assert f.read(777) == view[1234:2011]
        with fs.open_input_stream(f"{BUCKET}/{prefix}{name}") as s:
            assert s.read() == view


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_aws_s3_sync_twice_copies_nothing_the_second_time(
    gw: Gateway, views: tuple[str, dict[str, bytes]], tmp_path: Path
) -> None:
    prefix, expected = views
    target = tmp_path / "sync"
    url = f"s3://{BUCKET}/{prefix}"
    first = aws(gw, "s3", "sync", url, str(target), identity="analyst")
    assert first.stdout.count("download:") == len(expected)
    assert _tree(target) == expected
    second = aws(gw, "s3", "sync", url, str(target), identity="analyst")
    assert "download:" not in second.stdout, second.stdout
    assert _tree(target) == expected


def test_rclone_copy_and_check(
    gw: Gateway, views: tuple[str, dict[str, bytes]], tmp_path: Path
) -> None:
    prefix, expected = views
    target = tmp_path / "rclone"
    source = f"gw:{BUCKET}/{prefix}"
    rclone(gw, "copy", source, str(target), identity="analyst")
    assert _tree(target) == expected
    # check compares sizes and MD5s (the listing's ETags) with the local files.
    rclone(gw, "check", source, str(target), identity="analyst")
    listed = rclone(gw, "lsjson", "-R", "--hash", "--files-only", source, identity="analyst")
    sizes = {e["Path"]: e["Size"] for e in json.loads(listed.stdout)}
    assert sizes == {n: len(v) for n, v in expected.items()}
