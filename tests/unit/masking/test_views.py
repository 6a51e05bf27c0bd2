"""Shared read views: their key layout, the store round trip, the listing scan.

Against the real local directory store (no mocks): views are objects under
`.s3gate/views/` of the object's bucket.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.masking import viewkeys
from s3gate.masking.viewkeys import family, folder, parse, version
from s3gate.masking.views import ViewStore
from s3gate.masking.viewscan import scan
from s3gate.transform.settings import Limits
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream
from tests.unit.transform.helpers import example

B = "bkt"
RAW = b'{"client_ip": "10.1.2.3", "note": "mail jane@example.com"}\n' * 20


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket(B)
    try:
        yield upstream
    finally:
        await upstream.close()


@pytest.fixture
def viewstore(tmp_path: Path) -> ViewStore:
    return ViewStore(tmp_path / "spool", Limits())


@pytest.mark.parametrize(
    ("etag", "metadata", "starts"),
    [
        ('"0123456789abcdef0123456789abcdef"', {}, "0123456789abcdef0123456789abcdef."),
        ('"0123456789abcdef0123456789abcdef-3"', {}, "0123456789abcdef0123456789abcdef-3."),
        (
            '"weird/etag with spaces"',
            {},
            hashlib.sha256(b"weird/etag with spaces").hexdigest()[:32],
        ),
    ],
)
def test_version_is_the_etag_plus_the_steering_metadata(
    etag: str, metadata: dict[str, str], starts: str
) -> None:
    got = version(etag, metadata)
    assert got.startswith(starts) and "/" not in got
    assert version(etag, {"content-type": "text/plain"}) != got  # content type steers masking
    assert version(etag, {"x-amz-meta-note": "x"}) == got  # other metadata does not


def test_family_changes_with_profiles_keys_and_limits() -> None:
    analyst, writer = example("analyst-view"), example("write-default")
    base = family([analyst], Limits())
    assert family([analyst], Limits()) == base
    assert family([writer], Limits()) != base
    assert family([analyst, writer], Limits()) == family([writer, analyst], Limits())
    assert family([analyst], Limits(max_record_bytes=1024 * 1024)) != base


@pytest.mark.parametrize("key", ["a", "dir/run.jsonl", "x/" * 10 + "y", "ünï cødé/ key"])
def test_layout_round_trips(key: str) -> None:
    fam = "f" * 24
    ver = version('"' + "a" * 32 + '"', {})
    store_key = f"{folder(fam, key)}{ver}/{'b' * 32}-123"
    entry = parse(store_key, fam)
    assert entry is not None
    assert (entry.key, entry.version, entry.ref.length, entry.ref.etag) == (
        key,
        ver,
        123,
        f'"{"b" * 32}"',
    )
    assert parse(store_key, "e" * 24) is None  # another family's


def test_long_keys_go_to_hashed_folders() -> None:
    key = "k" * 1000
    where = folder("f" * 24, key)
    assert where.startswith(f"{viewkeys.ROOT}{'f' * 24}.h/") and len(where.encode()) < 200


async def test_a_view_is_built_once_then_found(store: LocalUpstream, viewstore: ViewStore) -> None:
    await store.put_object(B, "t/run.jsonl", Body.of(RAW), {"content-type": "application/x-ndjson"})
    profiles = [example("analyst-view")]
    first = await viewstore.view(store, B, "t/run.jsonl", profiles)
    assert b"10.1.2.3" not in b"".join(
        [c async for c in (await store.get_object(B, first.ref.store_key)).body]
    )
    assert viewstore.counts["read"] == 1
    again = await viewstore.view(store, B, "t/run.jsonl", profiles)
    assert again.ref == first.ref and viewstore.counts == {"read": 1, "found": 1}
    data = b"".join([c async for c in (await store.get_object(B, first.ref.store_key)).body])
    assert len(data) == first.length and f'"{hashlib.md5(data).hexdigest()}"' == first.etag


async def test_a_new_version_gets_a_new_view_and_the_old_is_pruned(
    store: LocalUpstream, viewstore: ViewStore
) -> None:
    profiles = [example("analyst-view")]
    await store.put_object(B, "k", Body.of(RAW), {})
    old = await viewstore.view(store, B, "k", profiles)
    await store.put_object(B, "k/child", Body.of(RAW), {})  # another object's views nest here
    child = await viewstore.view(store, B, "k/child", profiles)
    await store.put_object(B, "k", Body.of(RAW + b'{"more": 1}\n'), {})
    new = await viewstore.view(store, B, "k", profiles)
    assert new.ref.store_key != old.ref.store_key
    with pytest.raises(errors.NoSuchKey):
        await store.head_object(B, old.ref.store_key)
    await store.head_object(B, child.ref.store_key)  # untouched


async def test_a_blocked_view_stores_nothing(store: LocalUpstream, viewstore: ViewStore) -> None:
    # analyst-view blocks binary content: no view, and the error is the profile's.
    await store.put_object(B, "blob.bin", Body.of(bytes(range(256)) * 64), {})
    with pytest.raises(errors.S3Error):
        await viewstore.view(store, B, "blob.bin", [example("analyst-view")])
    page = await store.list_objects(B, prefix=viewkeys.ROOT)
    assert page.contents == []


async def test_scan_finds_a_page_of_views_in_one_listing(
    store: LocalUpstream, viewstore: ViewStore
) -> None:
    profiles = [example("analyst-view")]
    keys = ["d/a", "d/a-b", "d/a/b", "d/b", "d/c"]
    for key in keys:
        await store.put_object(B, key, Body.of(RAW + key.encode()), {})
        await viewstore.view(store, B, key, profiles)
    fam = viewstore.family(profiles)
    wanted = ["d/a", "d/a/b", "d/b"]
    found = await scan(store, B, fam, wanted, max_calls=1)
    assert sorted(found) == wanted
    for key in wanted:
        (entry,) = found[key]
        assert entry.ref == (await viewstore.view(store, B, key, profiles)).ref


async def test_forget_removes_every_view_of_a_deleted_key(
    store: LocalUpstream, viewstore: ViewStore
) -> None:
    await store.put_object(B, "gone.jsonl", Body.of(RAW), {})
    await store.put_object(B, "kept.jsonl", Body.of(RAW), {})
    for profiles in ([example("analyst-view")], [example("write-default")]):
        await viewstore.view(store, B, "gone.jsonl", profiles)
        await viewstore.view(store, B, "kept.jsonl", profiles)
    assert await viewstore.forget(store, B, "gone.jsonl") == 2
    left = [o.key for o in (await store.list_objects(B, prefix=viewkeys.ROOT)).contents]
    assert len(left) == 2 and all("/kept.jsonl/" in k for k in left)


@pytest.mark.parametrize(
    ("entries", "asked", "found"),
    [
        (2, ("k", '"e1"'), True),  # remembered
        (2, ("k", '"e2"'), False),  # another version of the key: never the old view
        (2, ("other", '"e1"'), False),
        (0, ("k", '"e1"'), False),  # cache off
    ],
)
def test_index_cache_is_keyed_by_the_stored_etag(
    tmp_path: Path, entries: int, asked: tuple[str, str], found: bool
) -> None:
    store = ViewStore(tmp_path, Limits(), index_cache_entries=entries)
    ref = viewkeys.ViewRef(".s3gate/views/f/k/e1.x/" + "a" * 32 + "-5", 5, '"' + "a" * 32 + '"')
    store.remember(B, "f", "k", '"e1"', ref)
    assert (store.cached(B, "f", *asked) == ref) is found


def test_index_cache_is_bounded(tmp_path: Path) -> None:
    store = ViewStore(tmp_path, Limits(), index_cache_entries=2)
    ref = viewkeys.ViewRef("x", 1, '"' + "a" * 32 + '"')
    for key in ("a", "b", "c"):
        store.remember(B, "f", key, '"e"', ref)
    assert store.cached(B, "f", "a", '"e"') is None
    assert store.cached(B, "f", "c", '"e"') == ref
