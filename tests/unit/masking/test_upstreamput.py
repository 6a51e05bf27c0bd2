"""A spooled masked whole sent to the store: one PUT up to the threshold, a
multipart upload of its own above it; any failure or cancellation part-way
leaves neither an object nor an upload in progress (on the local store, the
same calls the S3 upstream makes)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.masking.spool import Spool
from s3gate.masking.upstreamput import MAX_OBJECT_BYTES, MAX_PARTS, MiB, Sizing, send_spool
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream

SMALL = Sizing(part_bytes=5 * MiB, multipart_above=6 * MiB)


@pytest.mark.parametrize(
    ("sizing", "length", "expected"),
    [
        (SMALL, 0, [(0, 0)]),
        (SMALL, 6 * MiB, [(0, 6 * MiB)]),
        (SMALL, 6 * MiB + 1, [(0, 5 * MiB), (5 * MiB, MiB + 1)]),
        (SMALL, 10 * MiB, [(0, 5 * MiB), (5 * MiB, 5 * MiB)]),
        (Sizing(), 256 * MiB, [(0, 256 * MiB)]),
        (Sizing(), 256 * MiB + 1, [(i * 64 * MiB, 64 * MiB) for i in range(4)] + [(256 * MiB, 1)]),
    ],
)
def test_ranges(sizing: Sizing, length: int, expected: list[tuple[int, int]]) -> None:
    assert sizing.ranges(length) == expected


@pytest.mark.parametrize("length", [10_000 * 5 * MiB + 1, MAX_OBJECT_BYTES])
def test_parts_grow_past_ten_thousand(length: int) -> None:
    ranges = SMALL.ranges(length)
    assert len(ranges) <= MAX_PARTS
    assert sum(n for _, n in ranges) == length
    assert ranges[0][1] > 5 * MiB
    assert all(n <= 5 * 1024 * MiB for _, n in ranges)


def test_past_s3s_largest_object_is_refused() -> None:
    with pytest.raises(errors.EntityTooLarge):
        SMALL.ranges(MAX_OBJECT_BYTES + 1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket("bkt")
    try:
        yield upstream
    finally:
        await upstream.close()


async def spooled(tmp_path: Path, data: bytes) -> Spool:
    spool = Spool(tmp_path / "spool")
    await spool.write(data)
    spool.flush()
    return spool


async def read(store: LocalUpstream, key: str) -> bytes:
    stream = await store.get_object("bkt", key)
    try:
        return b"".join([piece async for piece in stream.body])
    finally:
        await stream.aclose()


@pytest.mark.parametrize(("size", "parts"), [(6 * MiB, 0), (12 * MiB + 7, 3)])
async def test_stored_whole_or_in_parts(
    store: LocalUpstream, tmp_path: Path, size: int, parts: int
) -> None:
    data = os.urandom(size)
    with await spooled(tmp_path, data) as spool:
        meta = {"content-type": "application/x-ndjson", "x-amz-meta-s3gate-bundle": "b"}
        sent = await send_spool(store, "bkt", "k", spool, meta, SMALL)
    assert sent.parts == parts
    assert await read(store, "k") == data
    head = await store.head_object("bkt", "k")
    assert head.etag == sent.result.etag
    assert head.etag.endswith(f'-{parts}"') == bool(parts)
    assert head.metadata.get("x-amz-meta-s3gate-bundle") == "b"
    assert head.metadata.get("content-type") == "application/x-ndjson"
    if not parts:
        assert head.etag == f'"{hashlib.md5(data).hexdigest()}"'


class FailingPart:
    """The local store, but part `fail_at` fails (raises, or never answers)."""

    def __init__(self, store: LocalUpstream, fail_at: int, hang: bool = False) -> None:
        self._store = store
        self._fail_at = fail_at
        self._hang = hang
        self.started = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        if part_number == self._fail_at:
            self.started.set()
            if self._hang:
                await asyncio.Event().wait()
            raise errors.ServiceUnavailable("The upstream store is unreachable: test")
        return await self._store.upload_part(bucket, key, upload_id, part_number, body)


async def nothing_left(store: LocalUpstream) -> None:
    uploads = await store.list_multipart_uploads("bkt")
    assert uploads.uploads == []
    listed = await store.list_objects("bkt")
    assert listed.contents == []


async def test_a_failed_part_aborts_the_upload(store: LocalUpstream, tmp_path: Path) -> None:
    failing = FailingPart(store, fail_at=2)
    spool = await spooled(tmp_path, os.urandom(12 * MiB))
    with spool, pytest.raises(errors.ServiceUnavailable):
        await send_spool(failing, "bkt", "k", spool, {}, SMALL)  # type: ignore[arg-type]
    await nothing_left(store)


async def test_a_cancelled_send_aborts_the_upload(store: LocalUpstream, tmp_path: Path) -> None:
    failing = FailingPart(store, fail_at=2, hang=True)
    with await spooled(tmp_path, os.urandom(12 * MiB)) as spool:
        task = asyncio.create_task(
            send_spool(failing, "bkt", "k", spool, {}, SMALL)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(failing.started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await nothing_left(store)
