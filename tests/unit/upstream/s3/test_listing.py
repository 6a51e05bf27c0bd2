"""Listing through S3Upstream against moto: pages walked with `after` must
give exactly the listing of a Python model — no duplicates, no gaps — also
when a page ends on a rolled-up common prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from s3gate import errors
from s3gate.upstream.base import Body
from s3gate.upstream.s3 import S3Upstream
from s3gate.upstream.s3.listing import start_after
from tests.unit.upstream.s3.fixtures import bucket, moto_endpoint, s3

__all__ = ["bucket", "moto_endpoint", "s3"]

# Neighbours of "/" in byte order ("-", ".", "0") and keys equal to a prefix
# are where a naive resume-after-prefix goes wrong.
KEYS = [
    "a",
    "a-",
    "a.b",
    "a/",
    "a/1",
    "a/2/x",
    "a/2/y",
    "a/2z",
    "a/3/deep/er",
    "a0",
    "b/c/d",
    "b/c/e",
    "b/d",
    "c",
    "d+e f/g",
    "d+e f/h",
    "é/1",
    "é/2",
    "z%2F/1",
    "😀/x",
]


def model(prefix: str, delimiter: str | None) -> list[str]:
    """Expected listing order: keys and rolled prefixes, sorted, unique."""
    out: set[str] = set()
    for key in KEYS:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            out.add(prefix + rest[: rest.index(delimiter) + len(delimiter)])
        else:
            out.add(key)
    return sorted(out, key=lambda s: s.encode())


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
async def filled(s3: S3Upstream, bucket: str) -> str:
    for key in KEYS:
        await s3.put_object(bucket, key, Body(_one(b"x"), 1), {})
    return bucket


@pytest.mark.parametrize("prefix", ["", "a/", "a", "b/", "é", "zz"])
@pytest.mark.parametrize("delimiter", [None, "/"])
@pytest.mark.parametrize("max_keys", [1, 2, 3, 1000])
async def test_walk_pages_matches_model(
    s3: S3Upstream, filled: str, prefix: str, delimiter: str | None, max_keys: int
) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(100):
        page = await s3.list_objects(
            filled, prefix=prefix, delimiter=delimiter, max_keys=max_keys, after=after
        )
        entries = sorted(
            [o.key for o in page.contents] + page.common_prefixes, key=lambda s: s.encode()
        )
        assert len(entries) <= max_keys
        seen += entries
        if not page.is_truncated:
            assert page.next_after is None
            break
        assert page.next_after == entries[-1]
        after = page.next_after
    assert seen == model(prefix, delimiter)


async def test_resume_after_a_key_and_after_a_prefix(s3: S3Upstream, filled: str) -> None:
    page = await s3.list_objects(filled, delimiter="/", after="a/")
    assert page.common_prefixes[:1] == ["b/"]
    assert [o.key for o in page.contents][:1] == ["a0"]
    page = await s3.list_objects(filled, prefix="a/", delimiter="/", after="a/2/")
    assert [o.key for o in page.contents] == ["a/2z"]
    assert page.common_prefixes == ["a/3/"]
    page = await s3.list_objects(filled, prefix="a/", after="a/2/x")
    assert [o.key for o in page.contents] == ["a/2/y", "a/2z", "a/3/deep/er"]


def test_start_after_rule() -> None:
    top = "\U0010ffff"
    assert start_after("", None, "a/b") == ("a/b", None)
    assert start_after("", "/", None) == (None, None)
    assert start_after("", "/", "a0") == ("a0", None)
    assert start_after("", "/", "a/") == ("a/" + top, "a/")
    # Anything inside a rolled-up prefix resumes after the whole prefix.
    assert start_after("", "/", "a/2/x") == ("a/" + top, "a/")
    assert start_after("a/", "/", "a/2/x") == ("a/2/" + top, "a/2/")
    assert start_after("a/", "/", "a/") == ("a/", None)
    assert start_after("b/", "/", "a/2/") == ("a/2/", None)
    assert start_after("", "::", "x::y::z") == ("x::" + top, "x::")


async def test_list_missing_bucket(s3: S3Upstream) -> None:
    with pytest.raises(errors.NoSuchBucket):
        await s3.list_objects("no-such-bucket-here")


async def test_multipart_listings(s3: S3Upstream, bucket: str) -> None:
    first = await s3.create_multipart_upload(bucket, "up/one two", {})
    second = await s3.create_multipart_upload(bucket, "up/plus+", {})
    await s3.create_multipart_upload(bucket, "other", {})
    page = await s3.list_multipart_uploads(bucket, prefix="up/")
    assert sorted((u.key, u.upload_id) for u in page.uploads) == sorted(
        [("up/one two", first), ("up/plus+", second)]
    )
    assert all(u.initiated.tzinfo is not None for u in page.uploads)

    part = 5 * 1024 * 1024
    for n in (1, 2, 3):
        await s3.upload_part(bucket, "up/one two", first, n, Body(_one(b"p" * part), part))
    parts: list[int] = []
    marker = 0
    for _ in range(10):
        got = await s3.list_parts(
            bucket, "up/one two", first, max_parts=2, part_number_marker=marker
        )
        parts += [p.part_number for p in got.parts]
        assert all(p.size == part and p.etag.startswith('"') for p in got.parts)
        if not got.is_truncated:
            break
        assert got.next_part_number_marker is not None
        marker = got.next_part_number_marker
    assert parts == [1, 2, 3]

    await s3.abort_multipart_upload(bucket, "up/one two", first)
    with pytest.raises(errors.NoSuchUpload):
        await s3.list_parts(bucket, "up/one two", first)
    with pytest.raises(errors.NoSuchUpload):
        await s3.abort_multipart_upload(bucket, "up/one two", first)
    remaining = await s3.list_multipart_uploads(bucket, prefix="up/")
    assert [u.upload_id for u in remaining.uploads] == [second]
