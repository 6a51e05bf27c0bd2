"""Over HTTPS, current boto3 and the aws CLI send uploads as aws-chunked
bodies with a CRC32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) by default.
They must work out of the box, and a wrong trailer must store nothing."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e.clients import aws
from tests.e2e.harness import Gateway

MiB = 1024 * 1024


def _record_modes(client: Any) -> list[str]:
    """The x-amz-content-sha256 (payload mode) of every request the client sends."""
    modes: list[str] = []

    def hook(request: Any, **_: Any) -> None:
        value = request.headers.get("x-amz-content-sha256", "")
        modes.append(value.decode() if isinstance(value, bytes) else value)

    client.meta.events.register("before-send.s3.*", hook)
    return modes


@pytest.fixture
def tls_bucket(tls_gateway: Gateway, direct: Any) -> Any:
    name = f"tls-{os.urandom(5).hex()}"
    tls_gateway.client("admin").create_bucket(Bucket=name)
    yield name
    for obj in direct.list_objects_v2(Bucket=name).get("Contents", []):
        direct.delete_object(Bucket=name, Key=obj["Key"])
    direct.delete_bucket(Bucket=name)


@pytest.mark.parametrize("size", [0, 100, 3 * MiB])
def test_default_trailer_uploads(
    tls_gateway: Gateway, tls_bucket: str, direct: Any, size: int
) -> None:
    client = tls_gateway.client("admin")
    modes = _record_modes(client)
    data = os.urandom(size)
    put = client.put_object(Bucket=tls_bucket, Key="k", Body=data)
    assert "STREAMING-UNSIGNED-PAYLOAD-TRAILER" in modes
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert direct.get_object(Bucket=tls_bucket, Key="k")["Body"].read() == data


def test_multipart_with_trailers(tls_gateway: Gateway, tls_bucket: str, direct: Any) -> None:
    client = tls_gateway.client("admin")
    modes = _record_modes(client)
    data = os.urandom(20 * MiB)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    client.upload_fileobj(io.BytesIO(data), tls_bucket, "mp.bin", Config=cfg)
    assert modes.count("STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 3
    out = io.BytesIO()
    client.download_fileobj(tls_bucket, "mp.bin", out, Config=cfg)
    assert out.getvalue() == data


def _corrupt_trailer(request: Any, **_: Any) -> None:
    body = request.body
    data = body.read() if hasattr(body, "read") else bytes(body)
    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    data, n = re.subn(
        rb"x-amz-checksum-crc32:[A-Za-z0-9+/=]+", f"x-amz-checksum-crc32:{wrong}".encode(), data
    )
    assert n == 1
    request.body = data


@pytest.mark.parametrize("size", [100, 3 * MiB])
def test_bad_trailer_checksum_stores_nothing(
    tls_gateway: Gateway, tls_bucket: str, direct: Any, size: int
) -> None:
    client = tls_gateway.client("admin")
    client.meta.events.register("before-send.s3.PutObject", _corrupt_trailer)
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=tls_bucket, Key="k", Body=os.urandom(size))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as missing:
        direct.head_object(Bucket=tls_bucket, Key="k")
    assert missing.value.response["Error"]["Code"] == "404"


def test_aws_cli_over_https(tls_gateway: Gateway, tls_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(20 * MiB))
    aws(tls_gateway, "s3", "cp", str(src), f"s3://{tls_bucket}/in.bin")
    out = tmp_path / "out.bin"
    aws(tls_gateway, "s3", "cp", f"s3://{tls_bucket}/in.bin", str(out))
    assert out.read_bytes() == src.read_bytes()
