"""Addressing, key encoding and SigV4 signing of the S3 upstream."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from s3gate import errors
from s3gate.configbase import ConfigError, Secret
from s3gate.upstream.s3.addressing import Addressing, encode_query
from s3gate.upstream.s3.signer import EMPTY_SHA256, Signer
from s3gate.upstream.settings import UpstreamSettings

ODD_KEYS = [
    "plain.txt",
    "with space",
    "plus+sign",
    "uni-é中😀",
    "pct%2Fliteral",
    "q?mark=1&x",
    "hash#frag",
    "trail/",
    "a//b",
    "/lead",
    "tilde~star*(paren)",
    "semi;colon:at@comma,",
]


def _settings(**kw: Any) -> UpstreamSettings:
    base: dict[str, Any] = {
        "access_key_id": Secret(value="AKIAIOSFODNN7EXAMPLE"),
        "secret_access_key": Secret(value="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    }
    base.update(kw)
    return UpstreamSettings.model_validate(base)


class _Captured(Exception):
    pass


def _botocore_url(endpoint: str, bucket: str, key: str, style: str = "path") -> str:
    """The URL botocore itself sends for GetObject(bucket, key)."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(s3={"addressing_style": style}),
    )
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.url)
        raise _Captured

    client.meta.events.register("before-send.s3.GetObject", capture)
    with pytest.raises(_Captured):
        client.get_object(Bucket=bucket, Key=key)
    return seen[0]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_key_encoding_matches_botocore(key: str) -> None:
    addressing = Addressing(_settings(endpoint_url="http://127.0.0.1:9000"))
    url, host = addressing.url("bucket", key)
    assert url == _botocore_url("http://127.0.0.1:9000", "bucket", key)
    assert host == "127.0.0.1:9000"


def test_virtual_addressing() -> None:
    https = Addressing(_settings(region="eu-west-1", addressing_style="virtual"))
    assert https.url("my-bucket", "a b") == (
        "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b",
        "my-bucket.s3.eu-west-1.amazonaws.com",
    )
    assert https.url("my-bucket", "k") == (
        _botocore_url("https://s3.eu-west-1.amazonaws.com", "my-bucket", "k", "virtual"),
        "my-bucket.s3.eu-west-1.amazonaws.com",
    )
    # Dotted names would not match the TLS wildcard: path-style over https.
    assert https.url("my.bucket", "k")[0] == "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
    http = Addressing(_settings(endpoint_url="http://minio:9000", addressing_style="virtual"))
    assert http.url("my.bucket", "k")[0] == "http://my.bucket.minio:9000/k"
    assert http.url("my-bucket", None, [("location", None)])[0] == (
        "http://my-bucket.minio:9000/?location"
    )
    assert http.url(None)[0] == "http://minio:9000/"


def test_path_addressing_and_defaults() -> None:
    aws = Addressing(_settings(region="ap-south-1"))
    assert aws.url("b", "k")[0] == "https://s3.ap-south-1.amazonaws.com/b/k"
    assert aws.url("b")[0] == "https://s3.ap-south-1.amazonaws.com/b"
    assert aws.url(None)[0] == "https://s3.ap-south-1.amazonaws.com/"
    mounted = Addressing(_settings(endpoint_url="https://proxy.example/s3/"))
    assert mounted.url("b", "k")[0] == "https://proxy.example/s3/b/k"


def test_endpoint_validation() -> None:
    with pytest.raises(ConfigError):
        Addressing(_settings(endpoint_url="ftp://host"))
    with pytest.raises(ConfigError):
        Addressing(_settings(endpoint_url="https://user:pw@host"))


def test_query_encoding_is_canonical() -> None:
    query = [("uploads", None), ("prefix", "a b/é+"), ("max-uploads", "5"), ("key-marker", "~x")]
    assert encode_query(query) == ("key-marker=~x&max-uploads=5&prefix=a%20b%2F%C3%A9%2B&uploads")


async def test_aws_documented_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GET Object example of the AWS SigV4 documentation for S3
    ("Signature Calculations for the Authorization Header: Transferring
    Payload in a Single Chunk"), reproduced to the byte."""
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: dt.datetime(2013, 5, 24, 0, 0, 0)
    )
    signer = Signer(_settings())
    headers = await signer.sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"},
        EMPTY_SHA256,
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["X-Amz-Date"] == "20130524T000000Z"
    assert headers["X-Amz-Content-SHA256"] == EMPTY_SHA256


async def test_signing_key_cache_follows_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached signing key must be re-derived when the date changes: the
    second signature must equal a fresh signer's for that day."""
    now = [dt.datetime(2013, 5, 24, 23, 59, 59)]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now[0])
    signer = Signer(_settings())
    args = ("GET", "https://h/b/k", {"Host": "h"}, EMPTY_SHA256)
    await signer.sign(*args)
    now[0] = dt.datetime(2013, 5, 25, 0, 0, 1)
    cached = await signer.sign(*args)
    fresh = await Signer(_settings()).sign(*args)
    assert cached["Authorization"] == fresh["Authorization"]
    assert "/20130525/" in cached["Authorization"]


async def test_unsigned_payload_and_session_token() -> None:
    signer = Signer(_settings(session_token=Secret(value="TOKEN")))
    headers = await signer.sign(
        "PUT", "https://h/b/k", {"Host": "h", "x-amz-meta-a": "1"}, "UNSIGNED-PAYLOAD"
    )
    assert headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert headers["X-Amz-Security-Token"] == "TOKEN"
    signed = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-security-token"


async def test_refreshable_credentials_are_refreshed() -> None:
    calls: list[int] = []

    def refresh() -> dict[str, str]:
        calls.append(1)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        return {
            "access_key": f"AKIAFRESH{len(calls)}",
            "secret_key": "s",
            "token": f"tok{len(calls)}",
            "expiry_time": expiry.isoformat(),
        }

    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    creds = RefreshableCredentials.create_from_metadata(
        {
            "access_key": "AKIAOLD",
            "secret_key": "s",
            "token": "old",
            "expiry_time": soon.isoformat(),
        },
        refresh_using=refresh,
        method="test",
    )
    signer = Signer(UpstreamSettings(), credentials=creds)
    first = await signer.sign("GET", "https://h/", {"Host": "h"}, EMPTY_SHA256)
    assert "Credential=AKIAFRESH1/" in first["Authorization"]
    assert first["X-Amz-Security-Token"] == "tok1"
    second = await signer.sign("GET", "https://h/", {"Host": "h"}, EMPTY_SHA256)
    assert "Credential=AKIAFRESH1/" in second["Authorization"]
    assert len(calls) == 1  # fresh for an hour: no refresh per request


def test_default_chain_and_partial_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    Signer(UpstreamSettings())  # resolves from the environment
    with pytest.raises(ConfigError, match="together"):
        Signer(UpstreamSettings(access_key_id=Secret(value="AKIAONLY")))


def _expiring(minutes: float, refresh: Any) -> RefreshableCredentials:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return RefreshableCredentials.create_from_metadata(
        {
            "access_key": "AKIAOLD",
            "secret_key": "s",
            "token": "old",
            "expiry_time": expiry.isoformat(),
        },
        refresh_using=refresh,
        method="test",
    )


async def test_failed_advisory_refresh_keeps_valid_credentials() -> None:
    calls: list[int] = []

    def broken() -> dict[str, str]:
        calls.append(1)
        raise RuntimeError("STS is down")

    # 12 minutes left: inside botocore's advisory window (15), outside the
    # mandatory one (10): botocore keeps the old credentials.
    signer = Signer(UpstreamSettings(), credentials=_expiring(12, broken))
    for _ in range(5):
        headers = await signer.sign("GET", "https://h/", {"Host": "h"}, EMPTY_SHA256)
        assert "Credential=AKIAOLD/" in headers["Authorization"]
    assert len(calls) == 1  # not one attempt per request


async def test_failed_mandatory_refresh_is_service_unavailable() -> None:
    calls: list[int] = []

    def broken() -> dict[str, str]:
        calls.append(1)
        raise RuntimeError("STS is down")

    signer = Signer(UpstreamSettings(), credentials=_expiring(1, broken))
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable, match="credentials"):
            await signer.sign("GET", "https://h/", {"Host": "h"}, EMPTY_SHA256)
    assert 1 <= len(calls) <= 2  # botocore may retry once inside; we do not
