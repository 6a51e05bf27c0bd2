"""Writers syncing under a masking write profile: what they sent, shown only
to them (docs/masking.md, "Writers: syncing under a masking write profile").

A masked write leaves a marker of the sent bytes' size and MD5 (sealed, under
the internal prefix) for its writer; a listing by that writer of a key it may
list but not read shows those figures while the stored object is the one the
marker names. Oracle tests first: nobody else — another writer of the same
prefix, an analyst, an admin, a writer that may also read — ever sees them; a
stale or forged marker is never used; clients cannot reach the prefix. Then
the clients: `aws s3 sync` and `rclone sync --checksum` twice upload nothing
the second time, and exactly the changed file after a change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.clients import aws, rclone
from tests.e2e.harness import POLICIES, Gateway, start_gateway

BUCKET = "wsync"
SOURCES = ".s3gate/sources/"
POLICY = """
@id("e2e.sync-write")
@mask("write-default")
permit (principal, action in Action::"write", resource)
when { resource.bucket == "wsync" &&
       (principal in Group::"trace-writers" || principal in Group::"sync-readers" ||
        principal in Group::"copiers" || principal in Group::"masked-copiers") };

@id("e2e.sync-list")
permit (principal, action in Action::"list", resource)
when { resource.bucket == "wsync" &&
       (principal in Group::"trace-writers" || principal in Group::"sync-readers" ||
        principal in Group::"analysts" || principal in Group::"copiers" ||
        principal in Group::"masked-copiers") };

@id("e2e.copier-read")
permit (principal in Group::"copiers", action in Action::"read", resource)
when { resource.bucket == "wsync" && resource.key like "csrc/*" };

@id("e2e.masked-copier-read")
@mask("analyst-view")
permit (principal in Group::"masked-copiers", action in Action::"read", resource)
when { resource.bucket == "wsync" && resource.key like "csrc/*" };

@id("e2e.sync-read")
@mask("analyst-view")
permit (principal, action in Action::"read", resource)
when { resource.bucket == "wsync" &&
       (principal in Group::"analysts" || principal in Group::"sync-readers") };
"""
IDENTITIES = {
    "admin": ("admins",),
    "writer": ("trace-writers",),
    "writer2": ("trace-writers",),
    "reader-writer": ("sync-readers",),
    "analyst": ("analysts",),
    "copier": ("copiers",),
    "masked-copier": ("masked-copiers",),
}
# write-default tokenizes the e-mail address and the IP: the stored bytes differ.
TRACE = b'{"step": 1, "to": "jane.doe@example.com", "from": "10.1.2.3"}\n' * 20


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("writer-sync")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-sync.cedar").write_text(POLICY)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    gateway = start_gateway(
        folder, moto_endpoint, IDENTITIES, extra={"policy": {"dir": str(policies)}}
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"s{uuid.uuid4().hex[:10]}/"


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def _listed(gw: Gateway, identity: str, prefix: str) -> dict[str, tuple[int, str]]:
    """Key -> (Size, ETag) in v2 and v1 listings (which must agree)."""
    client = gw.client(identity)
    v2 = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    v1 = client.list_objects(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    seen = {o["Key"]: (o["Size"], o["ETag"]) for o in v2}
    assert seen == {o["Key"]: (o["Size"], o["ETag"]) for o in v1}
    return seen


def _stored(direct: Any, key: str) -> tuple[int, str]:
    head = direct.head_object(Bucket=BUCKET, Key=key)
    return head["ContentLength"], head["ETag"]


def _markers(direct: Any) -> list[str]:
    pages = direct.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=SOURCES)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_only_the_writer_sees_what_it_sent(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "run.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    stored = _stored(direct, key)
    sent = (len(TRACE), _md5(TRACE))
    assert stored != sent and stored[0] != len(TRACE)  # masking changed the bytes
    assert _listed(gw, "writer", prefix) == {key: sent}
    # Another writer of the same prefix and the admin (who reads unmasked):
    # the stored figures. The analyst: its view's, as its HEAD says.
    assert _listed(gw, "writer2", prefix) == {key: stored}
    assert _listed(gw, "admin", prefix) == {key: stored}
    head = gw.client("analyst").head_object(Bucket=BUCKET, Key=key)
    assert _listed(gw, "analyst", prefix) == {key: (head["ContentLength"], head["ETag"])}
    assert head["ContentLength"] != len(TRACE) and head["ETag"] != _md5(TRACE)


def test_a_writer_that_may_read_keeps_its_view_figures(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    key = prefix + "own.jsonl"
    client = gw.client("reader-writer")
    client.put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    head = client.head_object(Bucket=BUCKET, Key=key)
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    # Listing, HEAD and GET agree; none of them is the sent figures.
    assert _listed(gw, "reader-writer", prefix) == {key: (len(body), _md5(body))}
    assert (head["ContentLength"], head["ETag"]) == (len(body), _md5(body))
    assert len(body) != len(TRACE)


def test_a_writer_never_sees_another_writers_sent_figures(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    mine, theirs = prefix + "mine.jsonl", prefix + "theirs.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=mine, Body=TRACE)
    other = TRACE.replace(b"jane.doe", b"john.roe")
    gw.client("writer2").put_object(Bucket=BUCKET, Key=theirs, Body=other)
    assert _listed(gw, "writer", prefix) == {
        mine: (len(TRACE), _md5(TRACE)),
        theirs: _stored(direct, theirs),
    }
    assert _listed(gw, "writer2", prefix) == {
        mine: _stored(direct, mine),
        theirs: (len(other), _md5(other)),
    }


@pytest.mark.parametrize("how", ["around-the-gateway", "another-writer"])
def test_a_stale_marker_is_not_used(gw: Gateway, direct: Any, prefix: str, how: str) -> None:
    key = prefix + "run.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    assert _listed(gw, "writer", prefix) == {key: (len(TRACE), _md5(TRACE))}
    other = TRACE.replace(b'"step": 1', b'"step": 2')
    if how == "around-the-gateway":
        direct.put_object(Bucket=BUCKET, Key=key, Body=other)
    else:
        gw.client("writer2").put_object(Bucket=BUCKET, Key=key, Body=other)
    # The stored ETag changed: the writer's marker names another version.
    assert _listed(gw, "writer", prefix) == {key: _stored(direct, key)}
    if how == "another-writer":
        assert _listed(gw, "writer2", prefix) == {key: (len(other), _md5(other))}


def test_clients_cannot_reach_the_sources_prefix(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "run.jsonl"
    writer = gw.client("writer")
    writer.put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    (marker,) = [m for m in _markers(direct) if f"/{key}/" in m]
    for identity in ("writer", "admin"):
        client = gw.client(identity)
        for forged in (marker, f"{SOURCES}x/{key}/e/{'A' * 70}"):
            with pytest.raises(ClientError) as exc:
                client.put_object(Bucket=BUCKET, Key=forged, Body=b"")
            assert exc.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as exc:
            client.delete_object(Bucket=BUCKET, Key=marker)
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
        for listing in (client.list_objects_v2, client.list_objects):
            with pytest.raises(ClientError) as exc:
                listing(Bucket=BUCKET, Prefix=SOURCES)
            assert exc.value.response["Error"]["Code"] == "AccessDenied"
        # Nor does a listing of the bucket's root show the prefix.
        root = client.list_objects_v2(Bucket=BUCKET, Delimiter="/")
        assert ".s3gate/" not in [p["Prefix"] for p in root.get("CommonPrefixes", [])]
    assert f"{SOURCES}x/" not in " ".join(_markers(direct))  # nothing stored
    assert marker in _markers(direct)


def test_a_marker_moved_or_forged_in_the_store_is_not_used(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """Someone with store access copies a marker to another key (or makes one
    up): the figures are sealed to the key and version, so it opens nothing."""
    key, other = prefix + "a.jsonl", prefix + "b.jsonl"
    writer = gw.client("writer")
    writer.put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    writer.put_object(Bucket=BUCKET, Key=other, Body=TRACE + TRACE)
    (marker,) = [m for m in _markers(direct) if f"/{key}/" in m]
    etag = _stored(direct, other)[1].strip('"')
    writer_folder, tail = marker.split(f"/{key}/")[0], marker.rsplit("/", 1)[1]
    for path in (f"{other}/{etag}/{tail}", f"{other}/{etag}/{'A' * 70}"):
        for stale in [m for m in _markers(direct) if f"/{other}/" in m]:
            direct.delete_object(Bucket=BUCKET, Key=stale)
        direct.put_object(Bucket=BUCKET, Key=f"{writer_folder}/{path}", Body=b"")
        assert _listed(gw, "writer", prefix)[other] == _stored(direct, other)


def test_a_masked_multipart_upload_shows_the_writer_all_it_sent(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """Complete masks the parts as one object: the figures are those of all
    the parts in order (what `aws s3 sync` compares for a large file)."""
    key = prefix + "big.jsonl"
    first = TRACE * (5 * 1024 * 1024 // len(TRACE) + 1)
    parts_data = [first, TRACE]
    writer = gw.client("writer")
    uid = writer.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, data in enumerate(parts_data, start=1):
        etag = writer.upload_part(
            Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=number, Body=data
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    writer.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    whole = b"".join(parts_data)
    assert _stored(direct, key)[0] != len(whole)
    assert _listed(gw, "writer", prefix) == {key: (len(whole), _md5(whole))}
    assert _listed(gw, "writer2", prefix) == {key: _stored(direct, key)}


@pytest.mark.parametrize(("identity", "marked"), [("copier", True), ("masked-copier", False)])
def test_a_masked_copy_shows_the_source_only_to_who_saw_it_unmasked(
    gw: Gateway, direct: Any, prefix: str, identity: str, marked: bool
) -> None:
    """The copy's "sent" bytes are the source's: shown back to a copier that
    may read the source unmasked (it lists the same figures there), never to
    one that only sees the source's view."""
    source, key = f"csrc/{prefix}a.jsonl", prefix + "copy.jsonl"
    direct.put_object(Bucket=BUCKET, Key=source, Body=TRACE)
    client = gw.client(identity)
    client.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": source})
    stored = _stored(direct, key)
    assert stored[0] != len(TRACE)
    expected = (len(TRACE), _md5(TRACE)) if marked else stored
    assert _listed(gw, identity, prefix) == {key: expected}
    if marked:  # what it lists at the source, where it may read unmasked
        assert _listed(gw, identity, f"csrc/{prefix}") == {source: expected}


def _files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Files older than their upload: a file written in the second of its
    # upload would look newer than the object (whose LastModified has whole
    # seconds) and `aws s3 sync` would upload it again whatever its size.
    hour_ago = time.time() - 3600
    for i in range(n):
        record = {"i": i, "to": f"user{i}@example.com", "note": "x" * i}
        (folder / f"t{i}.jsonl").write_text(json.dumps(record) + "\n")
        os.utime(folder / f"t{i}.jsonl", (hour_ago, hour_ago))


def test_aws_s3_sync_twice_uploads_nothing_the_second_time(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "traces"
    _files(local, 5)
    target = f"s3://{BUCKET}/{prefix}"
    first = aws(gw, "s3", "sync", str(local), target, identity="writer").stdout
    assert first.count("upload:") == 5
    stored_before = {k: _stored(direct, prefix + k) for k in os.listdir(local)}
    assert all(stored_before[k][0] != (local / k).stat().st_size for k in stored_before)
    second = aws(gw, "s3", "sync", str(local), target, identity="writer").stdout
    assert "upload:" not in second, second
    (local / "t3.jsonl").write_text('{"i": 3, "to": "changed@example.com"}\n')
    third = aws(gw, "s3", "sync", str(local), target, identity="writer").stdout
    assert third.count("upload:") == 1 and "t3.jsonl" in third, third
    # Another writer syncing the same files re-uploads them all (it never
    # sees the first writer's figures).
    other = aws(gw, "s3", "sync", str(local), target, identity="writer2").stdout
    assert other.count("upload:") == 5


RCLONE_WRITER = ("--s3-no-check-bucket", "--s3-no-head", "--ignore-checksum", "-v")


def test_rclone_sync_checksum_twice_uploads_nothing_the_second_time(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "traces"
    _files(local, 4)
    target = f"gw:{BUCKET}/{prefix}"
    args = ("sync", "--checksum", *RCLONE_WRITER, str(local), target)
    first = rclone(gw, *args, identity="writer").stderr
    assert first.count("Copied") == 4, first
    second = rclone(gw, *args, identity="writer").stderr
    assert "Copied" not in second, second
    (local / "t1.jsonl").write_text('{"i": 1, "to": "changed@example.com"}\n')
    third = rclone(gw, *args, identity="writer").stderr
    assert third.count("Copied") == 1 and "t1.jsonl" in third, third
