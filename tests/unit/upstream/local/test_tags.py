"""Object tags in the local store (upstream/local/tags.py): kept with the
object's metadata, so PutObject, copies and the tagging calls agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.s3.tagging import Tag
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket("bkt")
    try:
        yield upstream
    finally:
        await upstream.close()


@pytest.mark.parametrize(
    ("metadata", "tags"),
    [
        ({}, ()),
        ({"x-amz-tagging": "a=1"}, (Tag("a", "1"),)),
        ({"x-amz-tagging": "a=1&b=two%20words"}, (Tag("a", "1"), Tag("b", "two words"))),
    ],
)
async def test_tags_of_a_put(store: LocalUpstream, metadata: dict[str, str], tags: object) -> None:
    await store.put_object("bkt", "k", Body.of(b"x"), {"x-amz-meta-m": "1", **metadata})
    assert await store.get_object_tagging("bkt", "k") == tags


async def test_put_and_delete_keep_the_rest_of_the_metadata(store: LocalUpstream) -> None:
    await store.put_object("bkt", "k", Body.of(b"x"), {"x-amz-meta-m": "1"})
    await store.put_object_tagging("bkt", "k", (Tag("c", "3"), Tag("d", "é")))
    assert await store.get_object_tagging("bkt", "k") == (Tag("c", "3"), Tag("d", "é"))
    assert (await store.head_object("bkt", "k")).metadata["x-amz-meta-m"] == "1"
    await store.delete_object_tagging("bkt", "k")
    assert await store.get_object_tagging("bkt", "k") == ()
    assert dict((await store.head_object("bkt", "k")).metadata) == {"x-amz-meta-m": "1"}


async def test_copy_keeps_the_tags(store: LocalUpstream) -> None:
    await store.put_object("bkt", "src", Body.of(b"x"), {"x-amz-tagging": "a=1"})
    await store.copy_object("bkt", "src", "bkt", "dst")
    assert await store.get_object_tagging("bkt", "dst") == (Tag("a", "1"),)


@pytest.mark.parametrize(
    ("bucket", "error"), [("bkt", errors.NoSuchKey), ("nope", errors.NoSuchBucket)]
)
async def test_missing_objects(
    store: LocalUpstream, bucket: str, error: type[errors.S3Error]
) -> None:
    for call in (
        store.get_object_tagging(bucket, "missing"),
        store.put_object_tagging(bucket, "missing", (Tag("a", "1"),)),
        store.delete_object_tagging(bucket, "missing"),
    ):
        with pytest.raises(error):
            await call
