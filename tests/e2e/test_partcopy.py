"""UploadPartCopy through the gateway, with boto3 and the aws CLI in front of
moto: a read of the source and a write of the target; a masked reader copies
its view (never a raw range, which could cut a secret in two), a masked
writer's upload is masked whole at Complete; refusals store no part
(the store read directly)."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.clients import aws
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.test_masking import BUCKET, EXTRA_POLICIES, IDENTITIES

MiB = 1024 * 1024
EMAIL = "partcopy.canary@example.com"
CARD = "4111111111111111"
SCRATCH = "partcopy-scratch"
# A reader of traces through analyst-view that may write, unmasked, to the
# scratch bucket: the case where the view is all that may reach the target.
COPIER_POLICIES = f"""
@id("e2e.copier-read")
@mask("analyst-view")
permit (principal is Service in Group::"copiers", action in Action::"read", resource)
when {{ resource.bucket == "traces" }};

@id("e2e.copier-write")
permit (principal is Service in Group::"copiers", action in Action::"write", resource)
when {{ resource.bucket == "{SCRATCH}" }};
"""


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("partcopy")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES + COPIER_POLICIES)
    for name in (BUCKET, SCRATCH):
        try:
            direct.create_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
    gateway = start_gateway(
        folder,
        moto_endpoint,
        {**IDENTITIES, "copier": ("copiers",)},
        extra={"policy": {"dir": str(policies)}},
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"p{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def plain(gw: Gateway, direct: Any) -> Iterator[str]:
    """A bucket outside `traces`: the admin is unmasked there."""
    name = f"pc-{uuid.uuid4().hex[:10]}"
    gw.client("admin").create_bucket(Bucket=name)
    yield name
    for obj in direct.list_objects_v2(Bucket=name).get("Contents", []):
        direct.delete_object(Bucket=name, Key=obj["Key"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    direct.delete_bucket(Bucket=name)


def complete(client: Any, bucket: str, key: str, upload_id: str, etags: list[str]) -> Any:
    return client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": i + 1, "ETag": etag} for i, etag in enumerate(etags)]
        },
    )


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = exc.value.response["Error"]["Code"]
    return code


def parts_of(direct: Any, bucket: str, key: str, upload_id: str) -> list[Any]:
    parts: list[Any] = direct.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get(
        "Parts", []
    )
    return parts


# -- unmasked --------------------------------------------------------------------------


def test_ranges_and_a_plain_part_make_the_object(gw: Gateway, direct: Any, plain: str) -> None:
    admin = gw.client("admin")
    data = bytes(range(256)) * (10 * MiB // 256)
    admin.put_object(Bucket=plain, Key="src", Body=data)
    upload = admin.create_multipart_upload(Bucket=plain, Key="dst")["UploadId"]
    first = admin.upload_part_copy(
        Bucket=plain,
        Key="dst",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": plain, "Key": "src"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]
    second = admin.upload_part_copy(
        Bucket=plain,
        Key="dst",
        UploadId=upload,
        PartNumber=2,
        CopySource={"Bucket": plain, "Key": "src"},
        CopySourceRange=f"bytes={5 * MiB}-{len(data) - 1}",
    )["CopyPartResult"]
    third = admin.upload_part(Bucket=plain, Key="dst", UploadId=upload, PartNumber=3, Body=b"tail")
    assert first["ETag"] == '"' + hashlib.md5(data[: 5 * MiB]).hexdigest() + '"'
    complete(admin, plain, "dst", upload, [first["ETag"], second["ETag"], third["ETag"]])
    stored = direct.get_object(Bucket=plain, Key="dst")["Body"].read()
    assert stored == data + b"tail"


def test_the_aws_cli_copies_a_large_object_with_part_copies(
    gw: Gateway, direct: Any, plain: str, tmp_path: Path
) -> None:
    data = hashlib.sha256(b"seed").digest() * (9 * MiB // 32)
    direct.put_object(Bucket=plain, Key="big", Body=data)
    # Above the CLI's 8 MiB threshold: CreateMultipartUpload + UploadPartCopy.
    aws(gw, "s3", "cp", f"s3://{plain}/big", f"s3://{plain}/big-copy")
    assert direct.get_object(Bucket=plain, Key="big-copy")["Body"].read() == data
    head = direct.head_object(Bucket=plain, Key="big-copy")
    assert head["ETag"].endswith('-2"')  # made of two part copies
    lines = [line for line in gw.log().splitlines() if '"UploadPartCopy"' in line]
    assert lines


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"CopySourceRange": "bytes=5-2"}, "InvalidArgument"),
        ({"CopySourceRange": "bytes=0-"}, "InvalidArgument"),
        ({"CopySourceRange": "items=0-1"}, "InvalidArgument"),
        ({"CopySourceRange": "bytes=100-200"}, "InvalidRange"),
        ({"CopySourceIfMatch": '"0000"'}, "PreconditionFailed"),
    ],
)
def test_bad_copies_are_refused_and_store_no_part(
    gw: Gateway, direct: Any, plain: str, extra: dict[str, str], code: str
) -> None:
    admin = gw.client("admin")
    admin.put_object(Bucket=plain, Key="src", Body=b"0123456789")
    upload = admin.create_multipart_upload(Bucket=plain, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as exc:
        admin.upload_part_copy(
            Bucket=plain,
            Key="dst",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": plain, "Key": "src"},
            **extra,
        )
    assert code_of(exc) == code
    assert parts_of(direct, plain, "dst", upload) == []


# -- policy ------------------------------------------------------------------------------


def test_it_needs_a_read_of_the_source_and_a_write_of_the_target(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    direct.put_object(Bucket=BUCKET, Key=prefix + "src.jsonl", Body=b'{"a": 1}\n')
    source = {"Bucket": BUCKET, "Key": prefix + "src.jsonl"}
    # The analyst reads traces but writes nothing.
    admin_upload = direct.create_multipart_upload(Bucket=BUCKET, Key=prefix + "dst.jsonl")
    with pytest.raises(ClientError) as exc:
        gw.client("analyst").upload_part_copy(
            Bucket=BUCKET,
            Key=prefix + "dst.jsonl",
            UploadId=admin_upload["UploadId"],
            PartNumber=1,
            CopySource=source,
        )
    assert code_of(exc) == "AccessDenied"
    assert parts_of(direct, BUCKET, prefix + "dst.jsonl", admin_upload["UploadId"]) == []
    # The copier writes scratch but may not read the audit bucket.
    upload = gw.client("copier").create_multipart_upload(Bucket=SCRATCH, Key=prefix + "x")
    with pytest.raises(ClientError) as exc:
        gw.client("copier").upload_part_copy(
            Bucket=SCRATCH,
            Key=prefix + "x",
            UploadId=upload["UploadId"],
            PartNumber=1,
            CopySource={"Bucket": "audit", "Key": "anything"},
        )
    assert code_of(exc) == "AccessDenied"
    assert parts_of(direct, SCRATCH, prefix + "x", upload["UploadId"]) == []


# -- masked: hostile first ----------------------------------------------------------------


def _canary_source(direct: Any, key: str) -> bytes:
    record = json.dumps({"user": EMAIL, "card": CARD, "note": "x" * 40}).encode() + b"\n"
    direct.put_object(Bucket=BUCKET, Key=key, Body=record * 3)
    return record * 3


def test_a_masked_reader_copies_its_view_never_a_raw_range(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    raw = _canary_source(direct, prefix + "src.jsonl")
    copier = gw.client("copier")
    view = copier.get_object(Bucket=BUCKET, Key=prefix + "src.jsonl")["Body"].read()
    assert EMAIL.encode() not in view
    # A range that would cut the raw email in two (bytes 0 to its middle).
    cut = raw.index(EMAIL.encode()) + len(EMAIL) // 2
    upload = copier.create_multipart_upload(Bucket=SCRATCH, Key=prefix + "dst")["UploadId"]
    part = copier.upload_part_copy(
        Bucket=SCRATCH,
        Key=prefix + "dst",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": BUCKET, "Key": prefix + "src.jsonl"},
        CopySourceRange=f"bytes=0-{cut}",
    )["CopyPartResult"]
    complete(copier, SCRATCH, prefix + "dst", upload, [part["ETag"]])
    stored = direct.get_object(Bucket=SCRATCH, Key=prefix + "dst")["Body"].read()
    assert stored == view[: cut + 1]  # the same offsets of the view
    for canary in (EMAIL, CARD):
        assert canary[: len(canary) // 2].encode() not in stored


def test_a_masked_writers_part_copies_are_masked_at_complete(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    raw = _canary_source(direct, prefix + "src.jsonl")
    writer = gw.client("writer")
    upload = writer.create_multipart_upload(Bucket=BUCKET, Key=prefix + "dst.jsonl")["UploadId"]
    part = writer.upload_part_copy(
        Bucket=BUCKET,
        Key=prefix + "dst.jsonl",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": BUCKET, "Key": prefix + "src.jsonl"},
    )["CopyPartResult"]
    # Nothing of the source in the clear in the store while the upload waits.
    for obj in direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/mpu/").get("Contents", []):
        held = direct.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        assert EMAIL.encode() not in held and CARD.encode() not in held
    complete(writer, BUCKET, prefix + "dst.jsonl", upload, [part["ETag"]])
    stored = direct.get_object(Bucket=BUCKET, Key=prefix + "dst.jsonl")["Body"].read()
    assert EMAIL.encode() not in stored and CARD.encode() not in stored
    assert stored.count(b"\n") == raw.count(b"\n")
