"""Bad requests over the wire: each answers its S3 error and stores nothing."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.harness import Gateway

MiB = 1024 * 1024


def error_code(resp: urllib3.BaseHTTPResponse) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", resp.data)
    assert match, resp.data
    return match.group(1).decode()


def assert_absent(direct: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        direct.head_object(Bucket=bucket, Key=key)
    assert exc.value.response["Error"]["Code"] == "404"


def test_wrong_secret(gateway: Gateway, bucket: str, direct: Any) -> None:
    req = rawhttp.sign(gateway, "PUT", f"/{bucket}/k", body=b"data", secret="not-the-secret")
    resp = rawhttp.send(req)
    assert resp.status == 403
    assert error_code(resp) == "SignatureDoesNotMatch"
    assert_absent(direct, bucket, "k")


def test_unknown_access_key(gateway: Gateway, bucket: str, direct: Any) -> None:
    client = gateway.client("admin")
    client._request_signer._credentials.access_key = "AKIAUNKNOWNUNKNOWN00"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert exc.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert_absent(direct, bucket, "k")


def test_anonymous_is_denied(gateway: Gateway, bucket: str) -> None:
    resp = urllib3.request("GET", f"{gateway.endpoint}/{bucket}?list-type=2", retries=False)
    assert resp.status == 403
    assert error_code(resp) == "AccessDenied"
    match = re.search(rb"<RequestId>([^<]+)</RequestId>", resp.data)
    assert match and match.group(1).decode() == resp.headers["x-amz-request-id"]


def test_tampered_signed_header(gateway: Gateway, bucket: str, direct: Any) -> None:
    req = rawhttp.sign(
        gateway, "PUT", f"/{bucket}/k", body=b"data", headers={"x-amz-meta-owner": "alice"}
    )
    req.headers["x-amz-meta-owner"] = "mallory"
    resp = rawhttp.send(req)
    assert resp.status == 403
    assert error_code(resp) == "SignatureDoesNotMatch"
    assert_absent(direct, bucket, "k")


def test_unsigned_amz_header_is_refused(gateway: Gateway, bucket: str, direct: Any) -> None:
    req = rawhttp.sign(gateway, "PUT", f"/{bucket}/k", body=b"data")
    req.headers["x-amz-meta-injected"] = "1"
    resp = rawhttp.send(req)
    assert resp.status == 403
    assert error_code(resp) == "AccessDenied"
    assert_absent(direct, bucket, "k")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_skewed_clock(gateway: Gateway, bucket: str, direct: Any, minutes: int) -> None:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    resp = rawhttp.send(rawhttp.sign(gateway, "PUT", f"/{bucket}/k", body=b"x", at=at))
    assert resp.status == 403
    assert error_code(resp) == "RequestTimeTooSkewed"
    assert_absent(direct, bucket, "k")


def test_small_skew_is_accepted(gateway: Gateway, bucket: str) -> None:
    at = datetime.now(UTC) - timedelta(minutes=10)
    resp = rawhttp.send(rawhttp.sign(gateway, "PUT", f"/{bucket}/k", body=b"x", at=at))
    assert resp.status == 200


def test_expired_presigned_url(gateway: Gateway, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    at = datetime.now(UTC) - timedelta(hours=2)
    url = rawhttp.presign(gateway, f"/{bucket}/k", expires=3600, at=at)
    resp = urllib3.request("GET", url, retries=False)
    assert resp.status == 403
    assert error_code(resp) == "AccessDenied"
    assert b"expired" in resp.data
    assert b"secret" not in resp.data


def test_presign_longer_than_a_week_is_refused(gateway: Gateway, bucket: str) -> None:
    url = rawhttp.presign(gateway, f"/{bucket}/k", expires=604801)
    resp = urllib3.request("GET", url, retries=False)
    assert resp.status == 400
    assert error_code(resp) == "AuthorizationQueryParametersError"


def test_malformed_authorization_header(gateway: Gateway, bucket: str) -> None:
    req = rawhttp.sign(gateway, "GET", f"/{bucket}?list-type=2")
    req.headers["Authorization"] = req.headers["Authorization"].replace("SignedHeaders=", "Signed=")
    resp = rawhttp.send(req)
    assert resp.status == 400
    assert error_code(resp) == "AuthorizationHeaderMalformed"


def test_bad_content_md5(gateway: Gateway, bucket: str, direct: Any) -> None:
    client = gateway.client("admin", request_checksum_calculation="when_required")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=wrong)
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5="not-base64!")
    assert exc.value.response["Error"]["Code"] == "InvalidDigest"
    assert_absent(direct, bucket, "k")


def test_payload_hash_mismatch_small(gateway: Gateway, bucket: str, direct: Any) -> None:
    req = rawhttp.sign(
        gateway,
        "PUT",
        f"/{bucket}/k",
        body=b"data",
        payload_hash=hashlib.sha256(b"other").hexdigest(),
    )
    resp = rawhttp.send(req)
    assert resp.status == 400
    assert error_code(resp) == "XAmzContentSHA256Mismatch"
    assert_absent(direct, bucket, "k")


def test_payload_hash_mismatch_streamed(gateway: Gateway, bucket: str, direct: Any) -> None:
    # Larger than the gateway's 1 MiB buffer limit: it streams upstream and must
    # abort the upstream request before the store commits.
    body = os.urandom(3 * MiB)
    req = rawhttp.sign(
        gateway,
        "PUT",
        f"/{bucket}/big",
        body=body,
        payload_hash=hashlib.sha256(body[:-1] + b"\0").hexdigest(),
    )
    resp = rawhttp.send(req)
    assert resp.status == 400
    assert error_code(resp) == "XAmzContentSHA256Mismatch"
    assert_absent(direct, bucket, "big")
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("size", [100, 3 * MiB])
def test_bad_checksum_header(gateway: Gateway, bucket: str, direct: Any, size: int) -> None:
    # Over plain HTTP boto3 sends the CRC32 as a header (trailers are for HTTPS,
    # see test_tls_trailers.py).
    client = gateway.client("admin")
    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="k", Body=os.urandom(size), ChecksumCRC32=wrong)
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    assert_absent(direct, bucket, "k")


def test_signed_chunked_upload(gateway: Gateway, bucket: str, direct: Any) -> None:
    data = os.urandom(200_000)
    resp = rawhttp.signed_chunked_put(gateway, f"/{bucket}/chunked", data)
    assert resp.status == 200, resp.data
    assert direct.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


@pytest.mark.parametrize("size", [200_000, 3 * MiB])
def test_corrupted_chunk_signature(gateway: Gateway, bucket: str, direct: Any, size: int) -> None:
    data = os.urandom(size)
    resp = rawhttp.signed_chunked_put(gateway, f"/{bucket}/chunked", data, corrupt_chunk=2)
    assert resp.status == 403
    assert error_code(resp) == "SignatureDoesNotMatch"
    assert_absent(direct, bucket, "chunked")


def test_sigv2_is_refused(gateway: Gateway, bucket: str) -> None:
    resp = urllib3.request(
        "GET",
        f"{gateway.endpoint}/{bucket}",
        headers={
            "Authorization": "AWS AKIAEXAMPLE:c2lnbmF0dXJl",
            "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
        },
        retries=False,
    )
    assert resp.status == 400
    assert error_code(resp) == "InvalidRequest"


def test_refused_uploads_do_not_poison_the_connection(gateway: Gateway, bucket: str) -> None:
    # A refusal answered before the body is read must not leave that body on a
    # kept-alive connection, where it would be parsed as the next request.
    client = gateway.client("admin")
    for i in range(4):
        with pytest.raises(ClientError) as exc:
            client.put_object(Bucket="audit", Key=f"forged-{i}", Body=os.urandom(3000))
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    client.put_object(Bucket=bucket, Key="after", Body=b"ok")
    assert client.get_object(Bucket=bucket, Key="after")["Body"].read() == b"ok"
