"""Object versions through the gateway, in front of moto's versioned S3.

Hostile cases first: turning versions on is an admin action, MFA delete is
refused, a version listing never shows a hidden key (in any version, on any
page), a masked reader sees each version's own view, and a masked write to a
versioned bucket leaves no unmasked version — and none of the gateway's
internal objects — behind (every version of the bucket is read back from
the store directly and searched for the canary)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.test_approvals import cli
from tests.e2e.test_request_limits import events_of

POLICY = """
@id("e2e.v-writer-write")
@mask("write-default")
permit (principal is Service in Group::"trace-writers", action in Action::"write", resource)
when { resource.bucket like "v-*" };

@id("e2e.v-writer-list")
permit (principal is Service in Group::"trace-writers", action in Action::"list", resource)
when { resource.bucket like "v-*" };

@id("e2e.v-analyst-read")
@mask("analyst-view")
permit (principal is Service in Group::"analysts", action in Action::"read", resource)
when { resource.bucket like "v-*" };

@id("e2e.v-analyst-list")
permit (principal is Service in Group::"analysts", action in Action::"list", resource)
when { resource.bucket like "v-*" };

@id("e2e.v-analyst-current-only")
forbid (principal is Service in Group::"analysts", action in Action::"read", resource)
when { resource.key like "current-only/*" && context has version_id };

@id("e2e.v-strict-write")
@mask("write-strict")
permit (principal is Service in Group::"strict-writers", action in Action::"write", resource)
when { resource.bucket like "v-*" };

@id("e2e.v-analyst-hidden")
forbid (principal is Service in Group::"analysts", action, resource)
when { resource.key like "*hidden*" };
"""
IDENTITIES = {
    "admin": ("admins",),
    "writer": ("trace-writers",),
    "analyst": ("analysts",),
    "strict": ("strict-writers",),
    "sec": ("security",),
}
CANARY = "canary-7f3e9b2d41"
# write-default redacts $..password; analyst-view redacts IP addresses.
SECRET_TRACE = (json.dumps({"step": 1, "password": CANARY}) + "\n").encode() * 20
IP_TRACE = b'{"step": 1, "note": "from 192.168.7.42 ok"}\n' * 30
# write-strict holds a code name (and tokenizes the e-mail address) …
HELD_TRACE = (
    b'{"msg": "Project Nightjar ships friday", "user": "' + CANARY.encode() + b'@example.com"}\n'
    b'{"msg": "all good"}\n'
)
# … and blocks a private key.
PEM = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAx1\\n-----END RSA PRIVATE KEY-----"
BLOCKED_TRACE = ('{"tool_result": "' + PEM + '", "note": "' + CANARY + '"}\n').encode()


@pytest.fixture(scope="module")
def gw(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("versions")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-versions.cedar").write_text(POLICY)
    gateway = start_gateway(
        folder, moto_endpoint, IDENTITIES, extra={"policy": {"dir": str(policies)}}
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def vbucket(gw: Gateway, direct: Any) -> Iterator[str]:
    """A versioned bucket (versions turned on through the gateway, by admin)."""
    name = f"v-{uuid.uuid4().hex[:12]}"
    admin = gw.client("admin")
    admin.create_bucket(Bucket=name)
    admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    for page in direct.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            direct.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    direct.delete_bucket(Bucket=name)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def all_versions(direct: Any, bucket: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in direct.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


# --- hostile: who may turn versions on, and how --------------------------------------


def test_versioning_is_an_admin_action(gw: Gateway, direct: Any) -> None:
    name = f"v-{uuid.uuid4().hex[:12]}"
    gw.client("admin").create_bucket(Bucket=name)
    try:
        for who in ("writer", "analyst"):
            with pytest.raises(ClientError) as exc:
                gw.client(who).put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": "Enabled"}
                )
            assert _code(exc) == "AccessDenied"
        assert "Status" not in direct.get_bucket_versioning(Bucket=name)
        # Reading the state is a bucket-level read (the list group).
        assert "Status" not in gw.client("writer").get_bucket_versioning(Bucket=name)
    finally:
        direct.delete_bucket(Bucket=name)


def test_mfa_delete_is_refused(gw: Gateway, direct: Any) -> None:
    name = f"v-{uuid.uuid4().hex[:12]}"
    admin = gw.client("admin")
    admin.create_bucket(Bucket=name)
    try:
        with pytest.raises(ClientError) as exc:
            admin.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
                MFA="arn:aws:iam::123456789012:mfa/x 123456",
            )
        assert _code(exc) == "NotImplemented"
        assert "Status" not in direct.get_bucket_versioning(Bucket=name)
    finally:
        direct.delete_bucket(Bucket=name)


def test_hidden_keys_never_appear_in_version_listings(gw: Gateway, vbucket: str) -> None:
    admin = gw.client("admin")
    for key in ("a", "b-hidden", "c", "d-hidden", "e"):
        for n in range(2):
            admin.put_object(Bucket=vbucket, Key=key, Body=f"{key} {n}".encode())
    admin.delete_object(Bucket=vbucket, Key="d-hidden")  # a delete marker, hidden too
    analyst = gw.client("analyst")
    whole = analyst.list_object_versions(Bucket=vbucket)
    keys = [v["Key"] for v in whole.get("Versions", [])]
    assert keys == ["a", "a", "c", "c", "e", "e"]
    assert "DeleteMarkers" not in whole
    # Page by page (one entry each): no page is empty, no marker names a hidden key.
    seen, kwargs = [], {"Bucket": vbucket, "MaxKeys": 1}
    while True:
        page = analyst.list_object_versions(**kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) == 1
        seen += [(v["Key"], v["VersionId"]) for v in entries]
        if not page["IsTruncated"]:
            break
        assert "hidden" not in page["NextKeyMarker"]
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    # Every page holds only visible versions. (That the pages together give
    # exactly the whole listing is not true in front of moto, which drops the
    # first entry after a `key-marker` given alone: docs/s3-compatibility.md,
    # "Object versions"; tests/unit/handlers/test_version_paging.py checks it
    # over a store with S3's marker semantics.)
    assert {k for k, _ in seen} <= {"a", "c", "e"}
    # The admin sees everything, delete marker included.
    full = admin.list_object_versions(Bucket=vbucket)
    assert len(full["Versions"]) == 10
    assert [m["Key"] for m in full["DeleteMarkers"]] == ["d-hidden"]


def test_a_hidden_keys_versions_cannot_be_read(gw: Gateway, vbucket: str) -> None:
    admin = gw.client("admin")
    vid = admin.put_object(Bucket=vbucket, Key="x-hidden", Body=b"secret")["VersionId"]
    with pytest.raises(ClientError) as exc:
        gw.client("analyst").get_object(Bucket=vbucket, Key="x-hidden", VersionId=vid)
    assert _code(exc) == "AccessDenied"


def test_a_masked_reader_reads_each_versions_own_view(
    gw: Gateway, vbucket: str, direct: Any
) -> None:
    admin = gw.client("admin")
    old = admin.put_object(Bucket=vbucket, Key="run.jsonl", Body=IP_TRACE)["VersionId"]
    admin.put_object(Bucket=vbucket, Key="run.jsonl", Body=b'{"step": 2}\n')
    analyst = gw.client("analyst")
    got = analyst.get_object(Bucket=vbucket, Key="run.jsonl", VersionId=old)
    body = got["Body"].read()
    assert got["VersionId"] == old
    assert b"192.168.7.42" not in body and b'"step": 1' in body
    head = analyst.head_object(Bucket=vbucket, Key="run.jsonl", VersionId=old)
    assert head["ContentLength"] == len(body) and head["VersionId"] == old
    listed = {v["VersionId"]: v for v in analyst.list_object_versions(Bucket=vbucket)["Versions"]}
    assert listed[old]["Size"] == len(body) and listed[old]["ETag"] == head["ETag"]
    stored = direct.get_object(Bucket=vbucket, Key="run.jsonl", VersionId=old)["Body"].read()
    assert stored == IP_TRACE and listed[old]["Size"] != len(stored)
    # The audit event of the read names the version.
    rid = got["ResponseMetadata"]["RequestId"]
    assert any(e["details"].get("version_id") == old for e in events_of(gw, rid))


def test_an_old_versions_read_is_that_versions_read(gw: Gateway, vbucket: str, direct: Any) -> None:
    """Policy, masking and audit of a GET/HEAD with versionId all concern the
    version named: the rule sees `context.version_id`, the view is the old
    version's (not the latest's), the events name the version."""
    admin, analyst = gw.client("admin"), gw.client("analyst")
    key = "current-only/run.jsonl"
    old = admin.put_object(Bucket=vbucket, Key=key, Body=IP_TRACE)["VersionId"]
    new_body = b'{"step": 2, "note": "from 10.1.2.3"}\n'
    new = admin.put_object(Bucket=vbucket, Key=key, Body=new_body)["VersionId"]
    # Policy: this rule forbids reads that name a version, old or latest.
    latest = analyst.get_object(Bucket=vbucket, Key=key)["Body"].read()
    assert b'"step": 2' in latest and b"10.1.2.3" not in latest
    for vid in (old, new):
        with pytest.raises(ClientError) as exc:
            analyst.get_object(Bucket=vbucket, Key=key, VersionId=vid)
        assert _code(exc) == "AccessDenied"
        rid = exc.value.response["ResponseMetadata"]["RequestId"]
        (event,) = [e for e in events_of(gw, rid) if e.get("decision") == "deny"]
        assert event["details"]["version_id"] == vid
        assert "e2e.v-analyst-current-only" in event["policy_ids"]
    # Masking: elsewhere the old version reads as its own view.
    other = "runs/two.jsonl"
    old = admin.put_object(Bucket=vbucket, Key=other, Body=IP_TRACE)["VersionId"]
    admin.put_object(Bucket=vbucket, Key=other, Body=new_body)
    latest = analyst.get_object(Bucket=vbucket, Key=other)
    latest_body = latest["Body"].read()
    assert b"10.1.2.3" not in latest_body and b'"step": 2' in latest_body
    got = analyst.get_object(Bucket=vbucket, Key=other, VersionId=old)
    body = got["Body"].read()
    assert b'"step": 1' in body and b"192.168.7.42" not in body and b'"step": 2' not in body
    assert got["VersionId"] == old
    # A first GET may be answered live, without an ETag; HEAD waits for the view.
    old_etag = analyst.head_object(Bucket=vbucket, Key=other, VersionId=old)["ETag"]
    latest_etag = analyst.head_object(Bucket=vbucket, Key=other)["ETag"]
    assert old_etag != latest_etag
    part = analyst.get_object(Bucket=vbucket, Key=other, VersionId=old, Range="bytes=0-9")
    assert part["Body"].read() == body[:10]
    # Reading the old version took nothing from the latest's view.
    again = analyst.get_object(Bucket=vbucket, Key=other)
    assert again["Body"].read() == latest_body and again["ETag"] == latest_etag
    # Audit: the allowed read's events name the version and the masking.
    rid = got["ResponseMetadata"]["RequestId"]
    events = events_of(gw, rid)
    assert events and all(e["details"].get("version_id") == old for e in events)
    assert any((e.get("masking") or {}).get("profile") == "analyst-view" for e in events)


# --- versions as S3 has them -----------------------------------------------------------


def test_versions_delete_markers_and_restores(gw: Gateway, vbucket: str) -> None:
    s3 = gw.client("admin")
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"two"
    assert s3.head_object(Bucket=vbucket, Key="k", VersionId=v1)["ContentLength"] == 3
    gone = s3.delete_object(Bucket=vbucket, Key="k")
    assert gone["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k")
    assert _code(exc) == "NoSuchKey"
    # The store's delete-marker headers come through on the 404 (moto sends
    # them on HEAD only; S3 on GET too, and they pass the same way).
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=vbucket, Key="k")
    answered = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert answered["x-amz-delete-marker"] == "true"
    assert answered["x-amz-version-id"] == gone["VersionId"]
    listing = s3.list_object_versions(Bucket=vbucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == [gone["VersionId"]]
    # Removing the marker by its id brings v2 back.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=gone["VersionId"])
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"two"
    # CopyObject from an old version.
    copied = s3.copy_object(
        Bucket=vbucket, Key="k2", CopySource={"Bucket": vbucket, "Key": "k", "VersionId": v1}
    )
    assert copied["CopySourceVersionId"] == v1
    assert s3.get_object(Bucket=vbucket, Key="k2")["Body"].read() == b"one"
    # DeleteObjects by version id.
    out = s3.delete_objects(
        Bucket=vbucket,
        Delete={"Objects": [{"Key": "k", "VersionId": v1}, {"Key": "k", "VersionId": v2}]},
    )
    assert sorted(d["VersionId"] for d in out["Deleted"]) == sorted([v1, v2])
    assert "Versions" not in s3.list_object_versions(Bucket=vbucket, Prefix="k/")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k")
    assert _code(exc) == "NoSuchKey"


def test_a_malformed_version_id_is_refused(gw: Gateway, vbucket: str) -> None:
    s3 = gw.client("admin")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="no-such-version")
    assert _code(exc) in ("NoSuchVersion", "InvalidArgument", "400")


# --- a masked write leaves no unmasked version behind -------------------------------


def test_masked_writes_to_a_versioned_bucket_leave_no_canary(
    gw: Gateway, vbucket: str, direct: Any
) -> None:
    writer = gw.client("writer")
    writer.put_object(Bucket=vbucket, Key="w/one.jsonl", Body=SECRET_TRACE)
    writer.put_object(Bucket=vbucket, Key="w/one.jsonl", Body=SECRET_TRACE)  # a second version
    # A staged (masked) multipart upload, completed, with a part sent twice.
    up = writer.create_multipart_upload(Bucket=vbucket, Key="w/mpu.jsonl")["UploadId"]
    writer.upload_part(Bucket=vbucket, Key="w/mpu.jsonl", UploadId=up, PartNumber=1, Body=b"x")
    etag = writer.upload_part(
        Bucket=vbucket, Key="w/mpu.jsonl", UploadId=up, PartNumber=1, Body=SECRET_TRACE
    )["ETag"]
    writer.complete_multipart_upload(
        Bucket=vbucket,
        Key="w/mpu.jsonl",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    # And one aborted.
    gone = writer.create_multipart_upload(Bucket=vbucket, Key="w/gone.jsonl")["UploadId"]
    writer.upload_part(
        Bucket=vbucket, Key="w/gone.jsonl", UploadId=gone, PartNumber=1, Body=SECRET_TRACE
    )
    writer.abort_multipart_upload(Bucket=vbucket, Key="w/gone.jsonl", UploadId=gone)
    # A masked read builds views too.
    gw.client("analyst").get_object(Bucket=vbucket, Key="w/one.jsonl")["Body"].read()

    versions, markers = all_versions(direct, vbucket)
    assert versions
    for v in versions:
        data = direct.get_object(Bucket=vbucket, Key=v["Key"], VersionId=v["VersionId"])
        assert CANARY.encode() not in data["Body"].read(), v["Key"]
    # The staged uploads' parts and markers are gone in every version: no
    # noncurrent copy, no delete marker (only each completed upload's answer stays).
    internal = [v["Key"] for v in versions + markers if v["Key"].startswith(".s3gate/mpu/")]
    assert all(k.endswith("/done") or k.endswith("/meta") for k in internal), internal
    assert not [m for m in markers if m["Key"].startswith(".s3gate/")]
    # The targets hold the masked bytes only.
    stored = direct.get_object(Bucket=vbucket, Key="w/mpu.jsonl")["Body"].read()
    assert b'"step": 1' in stored and CANARY.encode() not in stored


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        call()
    resp: dict[str, Any] = exc.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403, resp["Error"]
    assert CANARY not in str(resp["Error"])
    return resp


def _no_version_of(direct: Any, bucket: str, key: str) -> bool:
    versions, markers = all_versions(direct, bucket)
    return not [v for v in versions + markers if v["Key"] == key]


def test_held_and_blocked_writes_to_a_versioned_bucket_leave_no_canary(
    gw: Gateway, vbucket: str, direct: Any
) -> None:
    strict = gw.client("strict")
    # Two held writes (one approved, one denied): they wait in quarantine.
    holds = []
    for key in ("w/approved.jsonl", "w/denied.jsonl"):
        resp = _refused(lambda k=key: strict.put_object(Bucket=vbucket, Key=k, Body=HELD_TRACE))
        assert "Held for approval" in resp["Error"]["Message"]
        holds.append(resp["ResponseMetadata"]["HTTPHeaders"]["x-s3gate-hold-id"])
    assert _no_version_of(direct, vbucket, "w/approved.jsonl")
    # A blocked PutObject and a blocked multipart upload: refused whole.
    resp = _refused(
        lambda: strict.put_object(Bucket=vbucket, Key="w/blocked.jsonl", Body=BLOCKED_TRACE)
    )
    assert resp["Error"]["Code"] == "AccessDenied"
    up = strict.create_multipart_upload(Bucket=vbucket, Key="w/blocked-mpu.jsonl")["UploadId"]
    etag = strict.upload_part(
        Bucket=vbucket, Key="w/blocked-mpu.jsonl", UploadId=up, PartNumber=1, Body=BLOCKED_TRACE
    )["ETag"]
    resp = _refused(
        lambda: strict.complete_multipart_upload(
            Bucket=vbucket,
            Key="w/blocked-mpu.jsonl",
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    )
    assert resp["Error"]["Code"] == "AccessDenied"
    # The decisions: the approved write is released masked, the denied one destroyed.
    approved = cli(gw, "sec", "approve", holds[0], "--reason", "reviewed")
    assert approved.returncode == 0, approved.stderr
    denied = cli(gw, "sec", "deny", holds[1], "--reason", "code name")
    assert denied.returncode == 0, denied.stderr

    versions, markers = all_versions(direct, vbucket)
    for v in versions:
        data = direct.get_object(Bucket=vbucket, Key=v["Key"], VersionId=v["VersionId"])
        assert CANARY.encode() not in data["Body"].read(), v["Key"]
    # No version, no delete marker of either quarantine, nor of the refused targets.
    for hold_id in holds:
        left = [v["Key"] for v in versions + markers if hold_id in v["Key"]]
        assert left == [], left
    for key in ("w/denied.jsonl", "w/blocked.jsonl", "w/blocked-mpu.jsonl"):
        assert _no_version_of(direct, vbucket, key), key
    # The refused upload's parts are gone in every version; only its answer stays.
    staged = [v["Key"] for v in versions + markers if v["Key"].startswith(".s3gate/mpu/")]
    assert staged and all(k.endswith("/done") for k in staged), staged
    assert not [m for m in markers if m["Key"].startswith(".s3gate/")]
    (released,) = [v for v in versions if v["Key"] == "w/approved.jsonl"]
    body = direct.get_object(Bucket=vbucket, Key="w/approved.jsonl")["Body"].read()
    assert b"all good" in body and b"Nightjar" not in body and released["IsLatest"]


# --- the local directory store -------------------------------------------------------
