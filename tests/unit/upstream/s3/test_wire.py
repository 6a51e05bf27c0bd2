"""What S3Upstream puts on the wire, and how it takes failures moto cannot
produce: a scripted HTTP server stands in for the store."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import socket
import time
from collections.abc import AsyncIterator

import pytest

from s3gate import errors
from s3gate.s3.model import Conditions
from s3gate.upstream.base import Body
from s3gate.upstream.s3 import S3Upstream
from tests.unit.upstream.s3.fixtures import (
    RawRequest,
    RawServer,
    http_response,
    raw_answer,
    settings_for,
)

OK_PUT = raw_answer(200, {"ETag": '"abc"'})


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _upstream(endpoint: str, **overrides: object) -> S3Upstream:
    upstream = S3Upstream(settings_for(endpoint, **overrides))
    await upstream.start()
    return upstream


def _signed(request: RawRequest) -> list[str]:
    auth = request.headers["authorization"]
    return auth.split("SignedHeaders=")[1].split(",")[0].split(";")


async def test_streamed_put_has_length_not_chunked() -> None:
    data = b"z" * 100_000
    async with RawServer(OK_PUT) as server:
        upstream = await _upstream(server.endpoint)
        try:
            put = await upstream.put_object(
                "bkt", "a b", Body(_chunks(data), len(data)), {"x-amz-meta-k": "v"}
            )
        finally:
            await upstream.close()
    assert put.etag == '"abc"'
    (request,) = server.requests
    assert request.method == "PUT" and request.target == "/bkt/a%20b"
    assert request.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in request.headers
    assert request.body == data
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert request.headers["accept-encoding"] == "identity"
    assert "content-type" not in request.headers
    assert "user-agent" not in request.headers
    assert _signed(request) == [
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-meta-k",
    ]


async def test_known_hashes_are_sent_and_signed() -> None:
    data = b"known"
    sha = hashlib.sha256(data).hexdigest()
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    async with RawServer(OK_PUT) as server:
        upstream = await _upstream(server.endpoint)
        try:
            await upstream.upload_part(
                "bkt", "k", "up/id=", 3, Body(_chunks(data), 5, sha256_hex=sha, content_md5=md5)
            )
        finally:
            await upstream.close()
    (request,) = server.requests
    assert request.target == "/bkt/k?partNumber=3&uploadId=up%2Fid%3D"
    assert request.headers["x-amz-content-sha256"] == sha
    assert request.headers["content-md5"] == md5
    assert "content-md5" in _signed(request)


async def test_copy_headers() -> None:
    body = (
        b"<CopyObjectResult><ETag>&quot;e&quot;</ETag>"
        b"<LastModified>2020-01-01T00:00:00.000Z</LastModified></CopyObjectResult>"
    )
    async with RawServer(raw_answer(200, {}, body)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            conditions = Conditions(
                if_match='"m"',
                if_none_match='"n"',
                if_modified_since="Mon, 01 Jan 2024 00:00:00 GMT",
                if_unmodified_since="Tue, 02 Jan 2024 00:00:00 GMT",
            )
            result = await upstream.copy_object(
                "src", "dir/a b+é?", "dst", "k", conditions=conditions
            )
            await upstream.copy_object(
                "src", "s", "dst", "k", metadata={"x-amz-tagging": "a=b", "x-amz-meta-x": "1"}
            )
        finally:
            await upstream.close()
    assert result.etag == '"e"'
    first, second = server.requests
    assert first.headers["x-amz-copy-source"] == "src/dir/a%20b%2B%C3%A9%3F"
    assert first.headers["x-amz-metadata-directive"] == "COPY"
    assert first.headers["x-amz-copy-source-if-match"] == '"m"'
    assert first.headers["x-amz-copy-source-if-none-match"] == '"n"'
    assert first.headers["x-amz-copy-source-if-modified-since"].startswith("Mon, 01 Jan 2024")
    assert first.headers["x-amz-copy-source-if-unmodified-since"].startswith("Tue, 02 Jan")
    assert second.headers["x-amz-metadata-directive"] == "REPLACE"
    assert second.headers["x-amz-tagging-directive"] == "REPLACE"
    assert second.headers["x-amz-meta-x"] == "1"


async def test_delete_objects_sends_content_md5() -> None:
    answer = b"<DeleteResult><Deleted><Key>a&amp;b</Key></Deleted></DeleteResult>"
    async with RawServer(raw_answer(200, {}, answer)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            outcomes = await upstream.delete_objects("bkt", ["a&b"])
        finally:
            await upstream.close()
    assert outcomes[0].error_code is None
    (request,) = server.requests
    assert request.target == "/bkt?delete"
    expected = base64.b64encode(hashlib.md5(request.body, usedforsecurity=False).digest()).decode()
    assert request.headers["content-md5"] == expected
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.body).hexdigest()
    assert b"<Key>a&amp;b</Key>" in request.body


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, b"<Error><Code>SlowDown</Code><Message>easy</Message></Error>", errors.SlowDown),
        (500, b"<Error><Code>InternalError</Code></Error>", errors.InternalError),
        (502, b"<html>Bad Gateway</html>", errors.ServiceUnavailable),
        (504, b"", errors.ServiceUnavailable),
        (409, b"", errors.UpstreamError),
        (503, b"", errors.ServiceUnavailable),
        (403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", errors.SignatureDoesNotMatch),
        (400, b"<Error><Code>BrandNewCode</Code></Error>", errors.UpstreamError),
        (404, b"x" * 200_000, errors.NoSuchBucket),  # oversized: status decides
    ],
)
async def test_error_answers(status: int, body: bytes, expected: type[errors.S3Error]) -> None:
    async with RawServer(raw_answer(status, {}, body)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            with pytest.raises(expected) as info:
                await upstream.list_objects("bkt")
        finally:
            await upstream.close()
    assert info.value.http_status == (503 if status in (502, 504) else status)
    if status == 400:
        assert info.value.error_code == "BrandNewCode"
    if status == 409:
        assert info.value.error_code == "Status"  # from the reason phrase


async def test_head_errors_have_no_body() -> None:
    for status, expected in [(403, errors.AccessDenied), (404, errors.NoSuchKey)]:
        async with RawServer(raw_answer(status)) as server:
            upstream = await _upstream(server.endpoint)
            try:
                with pytest.raises(expected):
                    await upstream.head_object("bkt", "k")
            finally:
                await upstream.close()
    async with RawServer(raw_answer(404)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            with pytest.raises(errors.NoSuchBucket):
                await upstream.head_bucket("bkt")
        finally:
            await upstream.close()


@pytest.mark.parametrize(("status", "expected"), [(404, errors.NoSuchKey), (405, errors.S3Error)])
async def test_delete_marker_headers_come_with_the_error(
    status: int, expected: type[errors.S3Error]
) -> None:
    marker = {"x-amz-delete-marker": "true", "x-amz-version-id": "dm1"}
    async with RawServer(raw_answer(status, marker)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            with pytest.raises(expected) as exc:
                await upstream.head_object("bkt", "k", version_id="dm1" if status == 405 else None)
        finally:
            await upstream.close()
    assert exc.value.status == status
    assert {k: exc.value.headers[k] for k in marker} == marker


async def test_redirect_is_not_followed() -> None:
    headers = {"Location": "http://elsewhere/", "x-amz-bucket-region": "eu-west-1"}
    async with RawServer(raw_answer(301, headers)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            with pytest.raises(errors.UpstreamError) as info:
                await upstream.head_bucket("bkt")
        finally:
            await upstream.close()
    assert info.value.http_status == 301
    assert len(server.requests) == 1


async def test_200_with_error_body_raises() -> None:
    error = (
        b"\n\n<?xml version='1.0'?><Error><Code>InternalError</Code><Message>m</Message></Error>"
    )
    async with RawServer(raw_answer(200, {}, error)) as server:
        upstream = await _upstream(server.endpoint)
        try:
            with pytest.raises(errors.InternalError):
                await upstream.complete_multipart_upload("bkt", "k", "u", [(1, '"e"')])
            with pytest.raises(errors.InternalError):
                await upstream.copy_object("bkt", "a", "bkt", "b")
        finally:
            await upstream.close()


async def test_get_body_cut_short() -> None:
    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        head = http_response(200, {"Content-Length": "1000", "ETag": '"e"'})
        writer.write(head + b"x" * 400)
        await writer.drain()
        return False  # close with 600 bytes missing

    async with RawServer(respond) as server:
        upstream = await _upstream(server.endpoint)
        try:
            stream = await upstream.get_object("bkt", "k")
            assert stream.content_length == 1000
            with pytest.raises(errors.ServiceUnavailable):
                async for _ in stream.body:
                    pass
            await stream.aclose()
        finally:
            await upstream.close()


async def test_unreachable_is_service_unavailable_quickly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` now: connection refused.
    upstream = await _upstream(f"http://127.0.0.1:{port}")
    try:
        started = time.monotonic()
        with pytest.raises(errors.ServiceUnavailable) as info:
            await upstream.probe()
        with pytest.raises(errors.ServiceUnavailable):
            await upstream.put_object("bkt", "k", Body(_chunks(b"abc"), 3), {})
        with pytest.raises(errors.ServiceUnavailable):
            await upstream.get_object("bkt", "k")
        assert time.monotonic() - started < 2
    finally:
        await upstream.close()
    assert "unreachable" in info.value.message
    assert str(port) not in info.value.message


async def test_unanswered_request_times_out() -> None:
    async def never(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False

    async with RawServer(never) as server:
        upstream = await _upstream(server.endpoint, read_timeout_seconds=0.3)
        try:
            started = time.monotonic()
            with pytest.raises(errors.ServiceUnavailable, match="timed out"):
                await upstream.head_object("bkt", "k")
            assert time.monotonic() - started < 3
        finally:
            await upstream.close()


async def test_probe_tolerates_access_denied_but_not_5xx() -> None:
    for code, status in (("AccessDenied", 403), ("SlowDown", 503)):
        error = f"<Error><Code>{code}</Code></Error>".encode()
        async with RawServer(raw_answer(status, {}, error)) as s:
            upstream = await _upstream(s.endpoint)
            try:
                await upstream.probe()
            finally:
                await upstream.close()
    error = b"<Error><Code>InvalidAccessKeyId</Code></Error>"
    async with RawServer(raw_answer(403, {}, error)) as s:
        upstream = await _upstream(s.endpoint)
        try:
            with pytest.raises(errors.InvalidAccessKeyId):
                await upstream.probe()
        finally:
            await upstream.close()
    async with RawServer(raw_answer(500, {}, b"")) as s:
        upstream = await _upstream(s.endpoint)
        try:
            with pytest.raises(errors.ServiceUnavailable):
                await upstream.probe()
        finally:
            await upstream.close()


async def test_not_started() -> None:
    upstream = S3Upstream(settings_for("http://127.0.0.1:9"))
    with pytest.raises(errors.ServiceUnavailable):
        await upstream.list_buckets()


async def test_head_reads_only_stored_headers() -> None:
    headers = {
        "ETag": "abc",  # unquoted by a sloppy store: quoted on the way in
        "Last-Modified": "Wed, 01 Jan 2025 10:00:00 GMT",
        "Content-Length": "123",
        "Content-Type": "text/plain",
        "x-amz-meta-Team": "a",
        "x-amz-version-id": "v9",
        "x-amz-mp-parts-count": "4",
        "x-amz-checksum-crc32": "AAAAAA==",
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:…",
        "x-amz-tagging-count": "2",
        "x-amz-request-id": "r",
        "X-Amz-Object-Lock-Mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
        "x-amz-object-lock-legal-hold": "ON",
    }

    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"HTTP/1.1 200 OK\r\n{lines}\r\n".encode())
        await writer.drain()
        return True

    async with RawServer(respond) as server:
        upstream = await _upstream(server.endpoint)
        try:
            head = await upstream.head_object("bkt", "k")
        finally:
            await upstream.close()
    assert head.size == 123
    assert head.etag == '"abc"'
    assert head.last_modified == dt.datetime(2025, 1, 1, 10, tzinfo=dt.UTC)
    assert dict(head.metadata) == {"content-type": "text/plain", "x-amz-meta-team": "a"}
    assert head.version_id == "v9" and head.parts_count == 4
    # The version's lock, read through (never metadata, never sent back).
    assert dict(head.object_lock) == {
        "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
        "x-amz-object-lock-legal-hold": "ON",
    }


async def test_iterator_of_an_unsent_body_is_closed() -> None:
    closed = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"abc"
        finally:
            closed.append(True)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    upstream = await _upstream(f"http://127.0.0.1:{port}")
    try:
        source = chunks()
        await source.__anext__()  # the caller had started it (a verifier, say)
        with pytest.raises(errors.ServiceUnavailable):
            await upstream.put_object("bkt", "k", Body(source, 3), {})
    finally:
        await upstream.close()
    assert closed == [True]
