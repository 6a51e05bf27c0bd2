"""Object Lock through the gateway, in front of moto's Object Lock.

Retention is the store's: the audit bucket's lock (set up at the store, as
docs/audit.md says) is read through on HEAD and GET, and no client can set a
lock, a retention date, a legal hold or a governance bypass — every such
request is refused before anything reaches the store. The hostile cases run
against a bucket with Object Lock enabled at the store, where a forwarded
header would take effect, and check that nothing was stored or changed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Gateway, direct_client, start_gateway

IDENTITIES = {"admin": ("admins",)}
AUDIT = "lk-audit-3b8e61f4"  # fixed: test ids carry it (xdist workers collect alike)
UNTIL = datetime.now(UTC) + timedelta(days=1)


def _locked_bucket(direct: Any, name: str) -> None:
    direct.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    direct.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )


def _empty(direct: Any, name: str) -> None:
    """Every version goes (governance retention can be bypassed at the store)."""
    for page in direct.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            direct.delete_object(
                Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True
            )
    direct.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def gw(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    direct = direct_client(moto_endpoint)
    _locked_bucket(direct, AUDIT)
    gateway = start_gateway(
        tmp_path_factory.mktemp("objectlock"),
        moto_endpoint,
        IDENTITIES,
        extra={
            "policy": {"audit_bucket": AUDIT},
            "audit": {"bucket": AUDIT, "batch_max_seconds": 0.5},
        },
    )
    yield gateway
    gateway.stop()
    _empty(direct, AUDIT)


@pytest.fixture
def locked(gw: Gateway, direct: Any) -> Iterator[str]:
    """A data bucket with Object Lock enabled at the store."""
    name = f"lk-{uuid.uuid4().hex[:12]}"
    _locked_bucket(direct, name)
    yield name
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    _empty(direct, name)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _absent(direct: Any, bucket: str, key: str) -> bool:
    """No version and no delete marker of `key`."""
    page = direct.list_object_versions(Bucket=bucket, Prefix=key)
    return not [
        v for v in page.get("Versions", []) + page.get("DeleteMarkers", []) if v["Key"] == key
    ]


def test_the_audit_buckets_lock_is_read_through(gw: Gateway, direct: Any) -> None:
    gw.client("admin").list_buckets()  # an event for the audit trail
    deadline = time.monotonic() + 30
    keys: list[str] = []
    while time.monotonic() < deadline and not keys:
        keys = [o["Key"] for o in direct.list_objects_v2(Bucket=AUDIT).get("Contents", [])]
        time.sleep(0.3)
    assert keys, "nothing shipped to the audit bucket"
    stored = direct.head_object(Bucket=AUDIT, Key=keys[0])
    assert stored["ObjectLockMode"] == "GOVERNANCE"
    through = gw.client("admin").head_object(Bucket=AUDIT, Key=keys[0])
    assert through["ObjectLockMode"] == "GOVERNANCE"
    assert through["ObjectLockRetainUntilDate"] == stored["ObjectLockRetainUntilDate"]
    got = gw.client("admin").get_object(Bucket=AUDIT, Key=keys[0])
    got["Body"].read()
    assert got["ObjectLockMode"] == "GOVERNANCE"
    # Nobody changes it through the gateway: the sub-resources are not operations.
    with pytest.raises(ClientError) as exc:
        gw.client("admin").put_object_retention(
            Bucket=AUDIT,
            Key=keys[0],
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": UNTIL},
            BypassGovernanceRetention=True,
        )
    assert _code(exc) in ("NotImplemented", "InvalidRequest")
    after = direct.head_object(Bucket=AUDIT, Key=keys[0])
    assert after["ObjectLockRetainUntilDate"] == stored["ObjectLockRetainUntilDate"]


WRITES = [
    ("retention", {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": UNTIL}),
    ("compliance", {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": UNTIL}),
    ("legal-hold", {"ObjectLockLegalHoldStatus": "ON"}),
]


@pytest.mark.parametrize(("name", "lock"), WRITES, ids=[w[0] for w in WRITES])
def test_clients_cannot_lock_what_they_write(
    gw: Gateway, direct: Any, locked: str, name: str, lock: dict[str, Any]
) -> None:
    s3 = gw.client("admin")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=locked, Key="put", Body=b"x", **lock)
    assert _code(exc) == "InvalidRequest"
    assert "Object Lock" in exc.value.response["Error"]["Message"]
    assert _absent(direct, locked, "put")
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=locked, Key="mpu", **lock)
    assert _code(exc) == "InvalidRequest"
    assert not direct.list_multipart_uploads(Bucket=locked).get("Uploads")
    direct.put_object(Bucket=locked, Key="src", Body=b"source")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=locked, Key="copy", CopySource={"Bucket": locked, "Key": "src"}, **lock
        )
    assert _code(exc) == "InvalidRequest"
    assert _absent(direct, locked, "copy")


def test_no_bypass_and_no_retention_from_clients(gw: Gateway, direct: Any, locked: str) -> None:
    s3 = gw.client("admin")
    vid = direct.put_object(Bucket=locked, Key="k", Body=b"kept")["VersionId"]
    # A governance bypass is never forwarded: the locked version stays.
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert _code(exc) == "AccessDenied"  # the store's answer, without a bypass
    out = s3.delete_objects(
        Bucket=locked,
        Delete={"Objects": [{"Key": "k", "VersionId": vid}]},
        BypassGovernanceRetention=True,
    )
    assert [(e["Key"], e["Code"]) for e in out.get("Errors", [])] == [("k", "AccessDenied")]
    assert "Deleted" not in out
    assert direct.get_object(Bucket=locked, Key="k", VersionId=vid)["Body"].read() == b"kept"
    assert "DeleteMarkers" not in direct.list_object_versions(Bucket=locked)
    # The lock sub-resources are not operations of the gateway.
    calls = [
        lambda: s3.put_object_retention(
            Bucket=locked, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": UNTIL}
        ),
        lambda: s3.put_object_legal_hold(Bucket=locked, Key="k", LegalHold={"Status": "ON"}),
        lambda: s3.put_object_lock_configuration(
            Bucket=locked, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        ),
        lambda: s3.get_object_retention(Bucket=locked, Key="k"),
        lambda: s3.get_object_lock_configuration(Bucket=locked),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "NotImplemented"
    head = direct.head_object(Bucket=locked, Key="k", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE" and "ObjectLockLegalHoldStatus" not in head
    # What the store says is read through on the data bucket too.
    assert s3.head_object(Bucket=locked, Key="k")["ObjectLockMode"] == "GOVERNANCE"


def test_clients_cannot_create_a_locked_bucket(gw: Gateway, direct: Any) -> None:
    name = f"lk-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as exc:
        gw.client("admin").create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert _code(exc) == "InvalidRequest"
    assert name not in [b["Name"] for b in direct.list_buckets()["Buckets"]]
    # Asking for no lock is no request for one.
    gw.client("admin").create_bucket(Bucket=name, ObjectLockEnabledForBucket=False)
    try:
        with pytest.raises(ClientError):
            direct.get_object_lock_configuration(Bucket=name)
    finally:
        direct.delete_bucket(Bucket=name)
