"""Staged-part markers carry the part's ETag sealed, never the plaintext
part's MD5 in the clear; a tampered or foreign marker opens nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.masking.staging import Staging
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream

BUCKET = "bkt"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket(BUCKET)
    try:
        yield upstream
    finally:
        await upstream.close()


def staging(kid: str = "s1") -> Staging:
    return Staging({kid: b"k" * 32, "s0": b"o" * 32}, kid, 86400)


async def everything(store: LocalUpstream) -> dict[str, bytes]:
    page = await store.list_objects(BUCKET, prefix=".s3gate/")
    out = {}
    for obj in page.contents:
        stream = await store.get_object(BUCKET, obj.key)
        out[obj.key] = b"".join([p async for p in stream.body])
        await stream.aclose()
    return out


async def test_no_key_or_byte_holds_the_plaintext_md5(store: LocalUpstream) -> None:
    s = staging()
    upload_id = await s.create(store, BUCKET, "k.jsonl", {}, ["write-default"])
    upload = s.open_id(BUCKET, "k.jsonl", upload_id)
    parts = [os.urandom(1000), b'{"note": "alice@example.com"}\n' * 10]
    etags = [await s.upload_part(store, upload, n, Body.of(p)) for n, p in enumerate(parts, 1)]
    digests = [hashlib.md5(p) for p in parts]
    assert etags == [f'"{d.hexdigest()}"' for d in digests]  # what S3 answers
    stored = await everything(store)
    assert any("/etag-" in k for k in stored)
    for key, data in stored.items():
        for d in digests:
            assert d.hexdigest() not in key and d.hexdigest().encode() not in data
            assert d.digest() not in data
    listed = await s.list_parts(store, upload, 1000, 0)
    assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [
        (n, e, len(p)) for n, (e, p) in enumerate(zip(etags, parts, strict=True), 1)
    ]
    # The same part sealed twice gives different names: nothing to compare.
    again = await s.upload_part(store, upload, 1, Body.of(parts[0]))
    assert again == etags[0]
    assert len([k for k in await everything(store) if "/etag-00001-" in k]) == 1


async def test_completion_checks_the_sealed_etags(store: LocalUpstream) -> None:
    s = staging()
    upload = s.open_id(BUCKET, "k", await s.create(store, BUCKET, "k", {}, ["p"]))
    etag = await s.upload_part(store, upload, 1, Body.of(b"abc"))
    stream, total = await s.plaintext(store, upload, [(1, etag)])
    assert b"".join([p async for p in stream]) == b"abc" and total == 3
    with pytest.raises(errors.InvalidPart):
        await s.plaintext(store, upload, [(1, '"' + hashlib.md5(b"abd").hexdigest() + '"')])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda name: name[:-1] + ("4" if name[-1] != "4" else "5"),  # another size
        lambda name: name.replace("etag-00001-", "etag-00002-"),  # another part
        lambda name: name[:30] + ("A" if name[30] != "A" else "B") + name[31:],  # a flipped char
    ],
)
async def test_a_moved_or_altered_marker_opens_nothing(store: LocalUpstream, tamper) -> None:  # type: ignore[no-untyped-def]
    s = staging()
    upload = s.open_id(BUCKET, "k", await s.create(store, BUCKET, "k", {}, ["p"]))
    await s.upload_part(store, upload, 1, Body.of(b"abcd"))
    (marker,) = [k for k in await everything(store) if "/etag-" in k]
    await store.delete_object(BUCKET, marker)
    folder, name = marker.rsplit("/", 1)
    await store.put_object(BUCKET, f"{folder}/{tamper(name)}", Body.of(b""), {})
    assert (await s.list_parts(store, upload, 1000, 0)).parts == []


async def test_legacy_clear_markers_still_complete(store: LocalUpstream) -> None:
    s = staging()
    upload = s.open_id(BUCKET, "k", await s.create(store, BUCKET, "k", {}, ["p"]))
    await s.upload_part(store, upload, 1, Body.of(b"abcd"))
    (marker,) = [k for k in await everything(store) if "/etag-" in k]
    await store.delete_object(BUCKET, marker)
    md5 = hashlib.md5(b"abcd").hexdigest()
    await store.put_object(BUCKET, f"{upload.folder}etag-00001-{md5}-4", Body.of(b""), {})
    parts = (await s.list_parts(store, upload, 1000, 0)).parts
    assert [(p.part_number, p.etag, p.size) for p in parts] == [(1, f'"{md5}"', 4)]
