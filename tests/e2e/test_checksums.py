"""Flexible checksums end to end: returned when they describe the bytes
stored or returned, never the client's checksum of bytes the gateway changed."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import uuid
import zlib
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from tests.e2e.harness import Gateway


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32(data: bytes) -> str:
    return _b64(zlib.crc32(data).to_bytes(4, "big"))


def sha256(data: bytes) -> str:
    return _b64(hashlib.sha256(data).digest())


def crc64nvme(data: bytes) -> str:
    return _b64(crt.crc64nvme(data).to_bytes(8, "big"))


# Small (buffered) and large (streamed past server.buffer_limit_bytes) bodies.
SIZES = [1024, 1_500_000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("algorithm", "compute"),
    [("CRC32", crc32), ("SHA256", sha256), ("CRC64NVME", crc64nvme)],
)
def test_put_head_get_return_the_stored_checksum(
    s3: Any, bucket: str, size: int, algorithm: str, compute: Any
) -> None:
    body = os.urandom(size)
    value = compute(body)
    field = f"Checksum{algorithm}"
    put = s3.put_object(
        Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm, **{field: value}
    )
    assert put[field] == value
    assert put["ChecksumType"] == "FULL_OBJECT"
    assert field not in s3.head_object(Bucket=bucket, Key="k")  # only when asked
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[field] == value
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[field] == value
    assert got["Body"].read() == body  # botocore validates the checksum as it reads
    ranged = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED", Range="bytes=0-9")
    assert field not in ranged  # a whole-object checksum does not describe a range


def test_sdk_default_crc32_trailer(tls_gateway: Gateway, direct: Any) -> None:
    """Over HTTPS boto3 sends its CRC32 in an aws-chunked trailer by default."""
    client = tls_gateway.client("admin")
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    body = os.urandom(5000)
    try:
        put = client.put_object(Bucket=bucket, Key="k", Body=body)
        assert put["ChecksumCRC32"] == crc32(body)
        head = client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == crc32(body)
    finally:
        direct.delete_object(Bucket=bucket, Key="k")
        direct.delete_bucket(Bucket=bucket)


def test_wrong_checksum_is_refused_and_nothing_stored(s3: Any, bucket: str, direct: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket, Key="bad", Body=b"abc", ChecksumAlgorithm="SHA256", ChecksumSHA256="bad"
        )
    assert exc.value.response["Error"]["Code"] in ("InvalidDigest", "BadDigest")
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket,
            Key="bad",
            Body=b"abc",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256(b"abd"),
        )
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="bad")


@pytest.fixture
def traces(direct: Any) -> str:
    with contextlib.suppress(ClientError):  # shared with other modules of the session
        direct.create_bucket(Bucket="traces")
    return "traces"


def test_masked_write_checksums_the_stored_bytes(s3: Any, traces: str, direct: Any) -> None:
    """Admin writes to `traces` go through write-default: the stored bytes are
    not the client's, so the checksum returned and stored is the same
    algorithm over the masked bytes, never the client's value."""
    key = f"conformance/{uuid.uuid4().hex}.jsonl"
    body = b'{"user": "jane.doe@example.com", "step": 1}\n'
    try:
        put = s3.put_object(
            Bucket=traces,
            Key=key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256(body),
        )
        stored = direct.get_object(Bucket=traces, Key=key)["Body"].read()
        assert stored != body and b"jane.doe@example.com" not in stored
        assert put["ChecksumSHA256"] == sha256(stored) != sha256(body)
        raw = direct.head_object(Bucket=traces, Key=key, ChecksumMode="ENABLED")
        assert raw["ChecksumSHA256"] == sha256(stored)
        # The admin's own read is unmasked: the store's checksum of the stored bytes.
        head = s3.head_object(Bucket=traces, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == sha256(stored)
    finally:
        direct.delete_object(Bucket=traces, Key=key)


def test_multipart_checksum_algorithm(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    assert created["ChecksumAlgorithm"] == "SHA256"
    assert created["ChecksumType"] == "COMPOSITE"
    part = os.urandom(1000)
    uploaded = s3.upload_part(
        Bucket=bucket,
        Key="mp",
        UploadId=created["UploadId"],
        PartNumber=1,
        Body=part,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=sha256(part),
    )
    assert uploaded["ChecksumSHA256"] == sha256(part)
    # The object's composite checksum rides in a header of the XML request: it
    # is not the XML body's checksum (was refused as InvalidDigest / BadDigest).
    composite = _b64(hashlib.sha256(hashlib.sha256(part).digest()).digest()) + "-1"
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=created["UploadId"],
        ChecksumSHA256=composite,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": uploaded["ETag"], "ChecksumSHA256": sha256(part)}]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == part
    full = s3.create_multipart_upload(
        Bucket=bucket, Key="mp2", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    assert (full["ChecksumAlgorithm"], full["ChecksumType"]) == ("CRC32", "FULL_OBJECT")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=full["UploadId"])
