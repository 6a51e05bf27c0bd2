"""Streaming through S3Upstream against moto: multipart, large objects in
bounded memory, an upload whose body fails half-way, connection pooling."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from s3gate import errors
from s3gate.upstream.base import Body
from s3gate.upstream.s3 import S3Upstream
from tests.unit.upstream.s3.fixtures import (
    RawRequest,
    RawServer,
    bucket,
    http_response,
    moto_endpoint,
    raw_answer,
    s3,
    settings_for,
)

__all__ = ["bucket", "moto_endpoint", "s3"]

MiB = 1024 * 1024


def pattern(index: int, size: int) -> bytes:
    """Deterministic, non-repeating-looking chunk `index` of a test object."""
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


async def generated(total: int, chunk: int = MiB) -> AsyncIterator[bytes]:
    for i, offset in enumerate(range(0, total, chunk)):
        yield pattern(i, min(chunk, total - offset))


def expected_sha(total: int, chunk: int = MiB) -> str:
    digest = hashlib.sha256()
    for i, offset in enumerate(range(0, total, chunk)):
        digest.update(pattern(i, min(chunk, total - offset)))
    return digest.hexdigest()


async def test_multipart_20_mib(s3: S3Upstream, bucket: str) -> None:
    total, part = 20 * MiB + 12345, 5 * MiB
    data = b"".join([c async for c in generated(total)])
    key = "big/multi part+é"
    upload = await s3.create_multipart_upload(
        bucket, key, {"content-type": "application/x-ndjson", "x-amz-meta-run": "7"}
    )
    etags = []
    for number, offset in enumerate(range(0, total, part), start=1):
        piece = data[offset : offset + part]
        etag = await s3.upload_part(bucket, key, upload, number, Body(_once(piece), len(piece)))
        assert etag == f'"{hashlib.md5(piece, usedforsecurity=False).hexdigest()}"'
        etags.append((number, etag))
    assert len(etags) == 5
    listed = await s3.list_parts(bucket, key, upload)
    assert [(p.part_number, p.etag) for p in listed.parts] == etags
    done = await s3.complete_multipart_upload(bucket, key, upload, etags)
    assert done.etag.endswith('-5"')
    head = await s3.head_object(bucket, key)
    assert head.size == total and head.etag == done.etag
    assert head.metadata["x-amz-meta-run"] == "7"
    stream = await s3.get_object(bucket, key)
    digest = hashlib.sha256()
    async for chunk in stream.body:
        digest.update(chunk)
    await stream.aclose()
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    # S3 says NoSuchUpload; moto fails with a KeyError, i.e. 500 InternalError.
    with pytest.raises((errors.NoSuchUpload, errors.InternalError)):
        await s3.complete_multipart_upload(bucket, key, "no-such-upload", etags)


async def test_complete_with_wrong_etag(s3: S3Upstream, bucket: str) -> None:
    upload = await s3.create_multipart_upload(bucket, "k", {})
    await s3.upload_part(bucket, "k", upload, 1, Body(_once(b"a"), 1))
    with pytest.raises(errors.InvalidPart):
        await s3.complete_multipart_upload(bucket, "k", upload, [(1, '"00"')])


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_64_mib_streams_in_bounded_memory(s3: S3Upstream, bucket: str) -> None:
    total = 64 * MiB
    tracemalloc.start()
    try:
        await s3.put_object(bucket, "huge", Body(generated(total), total), {})
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        stream = await s3.get_object(bucket, "huge")
        assert stream.content_length == total
        digest, largest = hashlib.sha256(), 0
        async for chunk in stream.body:
            digest.update(chunk)
            largest = max(largest, len(chunk))
        await stream.aclose()
        get_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == expected_sha(total)
    assert largest <= 1 * MiB
    # Both directions stay within a few buffers, far from the 64 MiB object.
    # The PUT bound is looser: the moto server answering it runs in this
    # process, and what its thread buffers at that moment is traced too (a
    # full run saw 9.6 MiB); holding the object whole would still be 64 MiB.
    assert put_peak < 16 * MiB, put_peak
    assert get_peak < 3 * MiB, get_peak


def _pool_counter() -> tuple[aiohttp.TraceConfig, SimpleNamespace]:
    counts = SimpleNamespace(created=0, reused=0)
    trace = aiohttp.TraceConfig()

    async def created(*_: Any) -> None:
        counts.created += 1

    async def reused(*_: Any) -> None:
        counts.reused += 1

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace, counts


async def test_failed_body_stores_nothing(s3: S3Upstream, bucket: str) -> None:
    total = 2 * MiB
    failure = errors.BadDigest("The body did not verify")
    sent = 0

    async def half_then_fail() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(8):  # 8 x 128 KiB = half of the declared length
            sent += 128 * 1024
            yield b"q" * (128 * 1024)
        await asyncio.sleep(0.05)  # let the bytes reach the server
        raise failure

    with pytest.raises(errors.BadDigest) as info:
        await s3.put_object(bucket, "k", Body(half_then_fail(), total), {})
    assert info.value is failure  # the caller's own error, not aiohttp's
    assert sent == total // 2

    await asyncio.sleep(0.2)  # give the store every chance to commit
    with pytest.raises(errors.NoSuchKey):
        await s3.head_object(bucket, "k")
    assert (await s3.list_objects(bucket)).contents == []
    # The same for a part: the upload has no part 1 afterwards.
    upload = await s3.create_multipart_upload(bucket, "m", {})
    sent = 0
    with pytest.raises(errors.BadDigest):
        await s3.upload_part(bucket, "m", upload, 1, Body(half_then_fail(), total))
    assert (await s3.list_parts(bucket, "m", upload)).parts == []

    # The pool still works, for uploads too.
    await s3.put_object(bucket, "k", Body(generated(total), total), {})
    assert (await s3.head_object(bucket, "k")).size == total


async def test_failed_body_connection_is_not_pooled() -> None:
    """moto closes every connection itself (see below), so pooling is shown
    against a keep-alive server that records what it received."""
    trace, counts = _pool_counter()
    async with RawServer(raw_answer(200, {"ETag": '"e"', "Last-Modified": _DATE})) as server:
        upstream = S3Upstream(settings_for(server.endpoint), trace_configs=[trace])
        await upstream.start()
        try:
            await upstream.head_object("bkt", "warm")  # one idle pooled connection
            failure = errors.BadDigest()

            async def half_then_fail() -> AsyncIterator[bytes]:
                yield b"q" * 1000
                await asyncio.sleep(0.05)
                raise failure

            with pytest.raises(errors.BadDigest):
                await upstream.put_object("bkt", "k", Body(half_then_fail(), 2000), {})
            assert (counts.created, counts.reused) == (1, 1)  # the PUT reused it …
            await upstream.head_object("bkt", "after")
            assert counts.created == 2  # … and it was closed, not pooled again
        finally:
            await upstream.close()
    put = server.requests[1]
    assert put.method == "PUT" and not put.complete and len(put.body) == 1000


_DATE = "Wed, 01 Jan 2025 00:00:00 GMT"


async def test_wrong_body_length_is_refused(s3: S3Upstream, bucket: str) -> None:
    with pytest.raises(errors.IncompleteBody):
        await s3.put_object(bucket, "short", Body(_once(b"abc"), 10), {})
    with pytest.raises(errors.InternalError):
        await s3.put_object(bucket, "long", Body(_once(b"abcdef"), 3), {})
    for key in ("short", "long"):
        with pytest.raises(errors.NoSuchKey):
            await s3.head_object(bucket, key)


async def test_connections_are_reused() -> None:
    """Every kind of call leaves its connection reusable. (moto answers
    `Connection: close` to everything, so this needs a keep-alive server.)"""
    listing = b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"

    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        headers = {"ETag": '"e"', "Last-Modified": _DATE}
        if request.method == "GET" and "list-type" in request.target:
            writer.write(http_response(200, headers, listing))
        elif request.target.endswith("/missing"):
            error = b"<Error><Code>NoSuchKey</Code></Error>"
            writer.write(http_response(404, headers, error if request.method == "GET" else b""))
        elif request.method == "HEAD":
            writer.write(http_response(200, {**headers, "Content-Length": "5"}))
        else:
            writer.write(http_response(200, headers, b"hello" if request.method == "GET" else b""))
        await writer.drain()
        return True

    trace, counts = _pool_counter()
    async with RawServer(respond) as server:
        upstream = S3Upstream(settings_for(server.endpoint), trace_configs=[trace])
        await upstream.start()
        try:
            for i in range(3):
                await upstream.put_object("bkt", f"k{i}", Body(_once(b"x" * i), i), {})
                assert (await upstream.head_object("bkt", f"k{i}")).size == 5
                stream = await upstream.get_object("bkt", f"k{i}")
                assert [c async for c in stream.body] == [b"hello"]
                await stream.aclose()
            await upstream.list_objects("bkt")
            with pytest.raises(errors.NoSuchKey):
                await upstream.get_object("bkt", "missing")
            with pytest.raises(errors.NoSuchKey):
                await upstream.head_object("bkt", "missing")
            await upstream.delete_object("bkt", "k0")
        finally:
            await upstream.close()
    assert len(server.requests) == 13
    assert (counts.created, counts.reused) == (1, 12)


async def test_abandoned_get_releases_the_connection(moto_endpoint: str) -> None:
    upstream = S3Upstream(settings_for(moto_endpoint, pool_size=1))
    await upstream.start()
    try:
        await upstream.create_bucket("abandon-test")
        size = 4 * MiB
        await upstream.put_object("abandon-test", "k", Body(generated(size), size), {})
        for reads in (0, 1, 2, 0):  # a pool of one: a leaked connection hangs here
            stream = await asyncio.wait_for(upstream.get_object("abandon-test", "k"), 5)
            for _ in range(reads):
                await stream.body.__anext__()
            await asyncio.wait_for(stream.aclose(), 5)
        await asyncio.wait_for(upstream.head_object("abandon-test", "k"), 5)
    finally:
        await upstream.close()
