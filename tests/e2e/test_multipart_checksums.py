"""Checksums of multipart uploads, with boto3 in front of moto: the admin's
uploads to `traces` are masked (write-default), so their checksum is the
masked bytes' (stored with them, answered on Complete and HEAD); the per-part
checksum describes the part sent; a plain upload's checksum is the store's,
never made up."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

EMAIL = "mp.checksum.canary@example.com"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def crc64nvme(data: bytes) -> str:
    return base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()


@pytest.fixture
def traces_key(direct: Any) -> Iterator[str]:
    with contextlib.suppress(ClientError):  # shared with other modules of the session
        direct.create_bucket(Bucket="traces")
    key = f"mpck/{uuid.uuid4().hex}.jsonl"
    yield key
    direct.delete_object(Bucket="traces", Key=key)


def _upload(s3: Any, bucket: str, key: str, body: bytes, **create: str) -> tuple[Any, Any, Any]:
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if create else {}
    part = s3.upload_part(
        Bucket=bucket, Key=key, UploadId=created["UploadId"], PartNumber=1, Body=body, **extra
    )
    listed = {"PartNumber": 1, "ETag": part["ETag"]}
    if "ChecksumCRC32" in part:
        listed["ChecksumCRC32"] = part["ChecksumCRC32"]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=created["UploadId"], MultipartUpload={"Parts": [listed]}
    )
    return created, part, done


def test_a_masked_upload_answers_the_checksum_of_the_masked_bytes(
    s3: Any, direct: Any, traces_key: str
) -> None:
    body = json.dumps({"user": EMAIL, "step": 1}).encode() + b"\n"
    created, part, done = _upload(s3, "traces", traces_key, body, ChecksumAlgorithm="CRC32")
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC32", "COMPOSITE")
    assert part["ChecksumCRC32"] == crc32(body)  # the part as the client sent it
    stored = direct.get_object(Bucket="traces", Key=traces_key)["Body"].read()
    assert EMAIL.encode() not in stored
    # The object is the masked bytes stored whole: a full-object checksum of them.
    assert done["ChecksumCRC32"] == crc32(stored) != crc32(body)
    assert done["ChecksumType"] == "FULL_OBJECT"
    raw = direct.head_object(Bucket="traces", Key=traces_key, ChecksumMode="ENABLED")
    assert raw["ChecksumCRC32"] == crc32(stored)
    head = s3.head_object(Bucket="traces", Key=traces_key, ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32(stored)


def test_a_masked_upload_without_an_algorithm_gets_crc64nvme(
    s3: Any, direct: Any, traces_key: str
) -> None:
    body = json.dumps({"user": EMAIL}).encode() + b"\n"
    _, _, done = _upload(s3, "traces", traces_key, body)
    stored = direct.get_object(Bucket="traces", Key=traces_key)["Body"].read()
    assert done["ChecksumCRC64NVME"] == crc64nvme(stored)
    assert done["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize(
    "create",
    [
        {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"},
        {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
    ],
)
def test_pairs_s3_refuses_are_refused_and_nothing_is_started(
    s3: Any, bucket: str, direct: Any, create: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="k", **create)
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_crc64nvme_is_full_object_by_default(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC64NVME")
    assert created["ChecksumType"] == "FULL_OBJECT"
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=created["UploadId"])


def test_a_plain_upload_answers_only_what_the_store_keeps(
    s3: Any, bucket: str, direct: Any
) -> None:
    body = b"plain part"
    _, part, done = _upload(s3, bucket, "plain", body, ChecksumAlgorithm="CRC32")
    assert part["ChecksumCRC32"] == crc32(body)
    kept = direct.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    answered = {k: v for k, v in done.items() if k.startswith("Checksum")}
    expected = {k: v for k, v in kept.items() if k.startswith("Checksum")}
    assert answered == expected  # whatever the store computed, and nothing else
