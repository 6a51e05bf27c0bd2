"""S3Upstream against a real moto server: buckets, objects, copies, deletes,
conditions and errors, with keys that stress the URL and XML encodings."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from s3gate import errors
from s3gate.s3.model import ByteRange, Conditions
from s3gate.upstream.base import Body, ObjectStream
from s3gate.upstream.s3 import S3Upstream
from tests.unit.upstream.s3.fixtures import bucket, moto_endpoint, s3, settings_for

__all__ = ["bucket", "moto_endpoint", "s3"]

ODD_KEYS = [
    "with space",
    "plus+sign",
    "uni-é中😀",
    "pct%2Fliteral",
    "pct%",
    "q?mark=1&x",
    "hash#frag",
    "trail/",
    "a//b",
    "/lead",
    "tab\tand\rcr",
    "amp&lt;<tag>",
]


async def _chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def body(data: bytes, *, md5: bool = False, sha: bool = False) -> Body:
    return Body(
        _chunks(data),
        len(data),
        sha256_hex=hashlib.sha256(data).hexdigest() if sha else None,
        content_md5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if md5
        else None,
    )


async def read(stream: ObjectStream) -> bytes:
    try:
        return b"".join([chunk async for chunk in stream.body])
    finally:
        await stream.aclose()


async def test_buckets(s3: S3Upstream) -> None:
    name = f"b-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(name)
    assert name in [b.name for b in await s3.list_buckets()]
    created = next(b.created for b in await s3.list_buckets() if b.name == name)
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    await s3.head_bucket(name)
    assert await s3.get_bucket_location(name) == "us-east-1"
    await s3.put_object(name, "k", body(b"x"), {})
    with pytest.raises(errors.BucketNotEmpty):
        await s3.delete_bucket(name)
    await s3.delete_object(name, "k")
    await s3.delete_bucket(name)
    with pytest.raises(errors.NoSuchBucket):
        await s3.head_bucket(name)
    with pytest.raises(errors.NoSuchBucket):
        await s3.delete_bucket(name)
    with pytest.raises(errors.NoSuchBucket):
        await s3.get_bucket_location(name)


async def test_create_bucket_in_another_region(moto_endpoint: str) -> None:
    upstream = S3Upstream(settings_for(moto_endpoint, region="eu-central-1"))
    await upstream.start()
    try:
        name = f"eu-{uuid.uuid4().hex[:12]}"
        await upstream.create_bucket(name)
        assert await upstream.get_bucket_location(name) == "eu-central-1"
    finally:
        await upstream.close()


async def test_missing_bucket_and_key(s3: S3Upstream, bucket: str) -> None:
    with pytest.raises(errors.NoSuchBucket):
        await s3.list_objects("no-such-bucket-here")
    with pytest.raises(errors.NoSuchBucket):
        await s3.put_object("no-such-bucket-here", "k", body(b"x"), {})
    with pytest.raises(errors.NoSuchKey):
        await s3.head_object(bucket, "missing")
    with pytest.raises(errors.NoSuchKey):
        await s3.get_object(bucket, "missing")
    with pytest.raises(errors.NoSuchKey):
        await s3.copy_object(bucket, "missing", bucket, "dest")
    await s3.delete_object(bucket, "missing")  # S3: deleting nothing succeeds


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_odd_keys_round_trip(s3: S3Upstream, bucket: str, key: str) -> None:
    data = key.encode() * 3
    await s3.put_object(bucket, key, body(data), {})
    assert [o.key for o in (await s3.list_objects(bucket)).contents] == [key]
    assert await read(await s3.get_object(bucket, key)) == data
    assert (await s3.head_object(bucket, key)).size == len(data)
    copy = key + ".copy"
    await s3.copy_object(bucket, key, bucket, copy)
    assert await read(await s3.get_object(bucket, copy)) == data
    outcomes = await s3.delete_objects(bucket, [key, copy])
    assert [(o.key, o.error_code) for o in outcomes] == [(key, None), (copy, None)]
    assert (await s3.list_objects(bucket)).contents == []


async def test_put_head_get_metadata(s3: S3Upstream, bucket: str) -> None:
    data = b'{"a": 1}\n' * 100
    metadata = {
        "content-type": "application/x-ndjson",
        "content-encoding": "gzip",  # must come back as bytes, not gunzipped
        "cache-control": "no-cache",
        "content-disposition": 'attachment; filename="t.jsonl"',
        "content-language": "en",
        "x-amz-meta-run": "42",
        "x-amz-meta-owner": "team a",
        "x-amz-storage-class": "STANDARD_IA",
        "authorization": "never forwarded",
    }
    put = await s3.put_object(bucket, "m", body(data, md5=True, sha=True), metadata)
    assert put.etag == f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
    head = await s3.head_object(bucket, "m")
    assert head.size == len(data) and head.etag == put.etag
    assert head.last_modified.tzinfo is not None
    expected = {k: v for k, v in metadata.items() if k != "authorization"}
    assert dict(head.metadata) == expected
    stream = await s3.get_object(bucket, "m")
    assert stream.status == 200 and stream.content_length == len(data)
    assert dict(stream.head.metadata) == expected
    assert await read(stream) == data


async def test_no_content_type_is_invented(s3: S3Upstream, bucket: str) -> None:
    await s3.put_object(bucket, "plain", body(b"x"), {})
    upload = await s3.create_multipart_upload(bucket, "multi", {})
    etag = await s3.upload_part(bucket, "multi", upload, 1, body(b"x"))
    await s3.complete_multipart_upload(bucket, "multi", upload, [(1, etag)])
    await s3.copy_object(bucket, "plain", bucket, "copied", metadata={"x-amz-meta-a": "1"})
    for key in ("plain", "multi", "copied"):
        # The store's own default, not one our HTTP client made up.
        assert (await s3.head_object(bucket, key)).metadata["content-type"] == (
            "binary/octet-stream"
        )


async def test_ranges(s3: S3Upstream, bucket: str) -> None:
    data = bytes(range(256)) * 4
    await s3.put_object(bucket, "r", body(data), {})
    stream = await s3.get_object(bucket, "r", byte_range=ByteRange(10, 19))
    assert stream.status == 206 and stream.content_range == f"bytes 10-19/{len(data)}"
    assert stream.content_length == 10 and stream.head.size == len(data)
    assert await read(stream) == data[10:20]
    stream = await s3.get_object(bucket, "r", byte_range=ByteRange(None, 5))
    assert await read(stream) == data[-5:]
    stream = await s3.get_object(bucket, "r", byte_range=ByteRange(1000, None))
    assert stream.content_range == f"bytes 1000-1023/{len(data)}"
    assert await read(stream) == data[1000:]
    with pytest.raises(errors.InvalidRange):
        await s3.get_object(bucket, "r", byte_range=ByteRange(5000, None))


async def test_conditions(s3: S3Upstream, bucket: str) -> None:
    put = await s3.put_object(bucket, "c", body(b"hello"), {})
    head = await s3.head_object(bucket, "c")
    later = format_datetime(head.last_modified + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(head.last_modified - timedelta(hours=1), usegmt=True)

    assert await read(await s3.get_object(bucket, "c", conditions=Conditions(if_match=put.etag)))
    with pytest.raises(errors.PreconditionFailed):
        await s3.get_object(bucket, "c", conditions=Conditions(if_match='"other"'))
    with pytest.raises(errors.PreconditionFailed):
        await s3.head_object(bucket, "c", conditions=Conditions(if_match='"other"'))
    with pytest.raises(errors.NotModified) as info:
        await s3.get_object(bucket, "c", conditions=Conditions(if_none_match=put.etag))
    assert info.value.headers["ETag"] == put.etag
    with pytest.raises(errors.NotModified):
        await s3.head_object(bucket, "c", conditions=Conditions(if_none_match=put.etag))
    with pytest.raises(errors.NotModified):
        await s3.get_object(bucket, "c", conditions=Conditions(if_modified_since=later))
    with pytest.raises(errors.PreconditionFailed):
        await s3.get_object(bucket, "c", conditions=Conditions(if_unmodified_since=earlier))
    ok = Conditions(if_modified_since=earlier, if_unmodified_since=later)
    assert await read(await s3.get_object(bucket, "c", conditions=ok)) == b"hello"


async def test_copy_directives_and_conditions(s3: S3Upstream, bucket: str) -> None:
    meta = {"content-type": "text/plain", "x-amz-meta-a": "1"}
    put = await s3.put_object(bucket, "src key+", body(b"payload"), meta)
    copied = await s3.copy_object(bucket, "src key+", bucket, "same")
    assert copied.etag == put.etag and copied.last_modified.tzinfo is not None
    assert dict((await s3.head_object(bucket, "same")).metadata) == meta
    await s3.copy_object(
        bucket, "src key+", bucket, "new", metadata={"x-amz-meta-b": "2", "content-type": "a/b"}
    )
    assert dict((await s3.head_object(bucket, "new")).metadata) == {
        "x-amz-meta-b": "2",
        "content-type": "a/b",
    }
    # moto evaluates only x-amz-copy-source-if-none-match (the other three are
    # sent, see test_wire.py, but moto ignores them).
    with pytest.raises(errors.PreconditionFailed):
        await s3.copy_object(
            bucket, "src key+", bucket, "x", conditions=Conditions(if_none_match=put.etag)
        )
    await s3.copy_object(
        bucket, "src key+", bucket, "y", conditions=Conditions(if_none_match='"other"')
    )
    with pytest.raises(errors.NoSuchBucket):
        await s3.copy_object(bucket, "src key+", "no-such-bucket-here", "z")


async def test_delete_objects(s3: S3Upstream, bucket: str) -> None:
    keys = [f"d/{i:04d} &<>" for i in range(1203)]  # more than one batch
    for key in keys[:5]:
        await s3.put_object(bucket, key, body(b"1"), {})
    asked = [*keys, keys[0], "never-existed"]
    outcomes = await s3.delete_objects(bucket, asked)
    assert [o.key for o in outcomes] == asked
    assert all(o.error_code is None for o in outcomes)
    assert (await s3.list_objects(bucket)).contents == []
    assert await s3.delete_objects(bucket, []) == []


async def test_delete_objects_key_xml_cannot_carry(s3: S3Upstream, bucket: str) -> None:
    odd = "bell\x07key"
    await s3.put_object(bucket, odd, body(b"1"), {})
    await s3.put_object(bucket, "fine", body(b"1"), {})
    outcomes = await s3.delete_objects(bucket, [odd, "fine"])
    assert [(o.key, o.error_code) for o in outcomes] == [(odd, None), ("fine", None)]
    assert (await s3.list_objects(bucket)).contents == []


async def test_probe(s3: S3Upstream) -> None:
    await s3.probe()


async def test_default_credential_chain(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    settings = settings_for(moto_endpoint, access_key_id=None, secret_access_key=None)
    upstream = S3Upstream(settings)
    await upstream.start()
    try:
        await upstream.list_buckets()
    finally:
        await upstream.close()
