"""The sources index: what a writer sent, shown back only to that writer.

Against the real local directory store (no mocks of our code): markers are
empty objects under `.s3gate/sources/` of the object's bucket.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from s3gate import errors
from s3gate.identity.principal import Principal
from s3gate.masking.sources import ROOT, Sent, SentTap, Sources
from s3gate.s3.model import ListPage, Metadata, ObjectInfo, PutResult
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream

B = "bkt"
SECRET = b"k" * 32
ALICE = Principal("alice", "AKIAALICE", "static", groups=("trace-writers",))
SENT = Sent(hashlib.md5(b"raw bytes").hexdigest(), 9)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket(B)
    try:
        yield upstream
    finally:
        await upstream.close()


def _sources() -> Sources:
    return Sources(SECRET, Counter())


def _listed(key: str, etag: str, size: int = 5) -> ObjectInfo:
    return ObjectInfo(key, size, etag, datetime.now(UTC))


@pytest.mark.parametrize(
    ("other", "same"),
    [
        # Every STS session has its own access key: still the same writer.
        (replace(ALICE, access_key_id="ASIAOTHER", source="static"), True),
        (replace(ALICE, groups=("trace-writers", "x")), True),
        (replace(ALICE, subject="bob"), False),
        (replace(ALICE, source="session"), False),
        (replace(ALICE, issuer="https://other.example"), False),
        (replace(ALICE, role="another-role"), False),
    ],
)
def test_the_writer_is_its_stable_identity(other: Principal, same: bool) -> None:
    sources = _sources()
    assert (sources.writer(other) == sources.writer(ALICE)) is same


def test_the_writer_name_is_keyed_and_names_nobody() -> None:
    name = _sources().writer(ALICE)
    assert "alice" not in name and len(name) == 32
    assert Sources(b"j" * 32, Counter()).writer(ALICE) != name


def test_a_marker_opens_only_where_it_was_sealed() -> None:
    sources = _sources()
    w = sources.writer(ALICE)
    marker = sources.marker_key(B, w, "p/a.jsonl", '"e1"', SENT)
    assert marker.startswith(f"{ROOT}{w}/p/a.jsonl/e1/")
    tail = marker.rsplit("/", 1)[1]
    # Nothing of the sent figures in the clear (they hash unmasked bytes).
    assert SENT.md5_hex not in marker and not marker.endswith(f"-{SENT.length}")
    assert sources.open(B, w, "p/a.jsonl", '"e1"', tail) == SENT
    for bucket, writer, key, etag in [
        ("other", w, "p/a.jsonl", '"e1"'),  # moved to another bucket
        (B, sources.writer(replace(ALICE, subject="bob")), "p/a.jsonl", '"e1"'),
        (B, w, "p/b.jsonl", '"e1"'),  # moved to another key
        (B, w, "p/a.jsonl", '"e2"'),  # the object changed since
    ]:
        assert sources.open(bucket, writer, key, etag, tail) is None
    forged = "A" * 70
    assert sources.open(B, w, "p/a.jsonl", '"e1"', forged) is None
    assert sources.open(B, w, "p/a.jsonl", '"e1"', tail[:-1]) is None
    assert Sources(b"j" * 32, Counter()).open(B, w, "p/a.jsonl", '"e1"', tail) is None


def test_long_keys_use_a_hashed_folder() -> None:
    sources = _sources()
    w = sources.writer(ALICE)
    assert sources.folder(w, "k") == f"{ROOT}{w}/k/"
    where = sources.folder(w, "x" * 900)
    assert where.startswith(f"{ROOT}{w}.h/") and len(where.encode()) < 200
    marker = sources.marker_key(B, w, "x" * 900, '"e"', SENT)
    assert len(marker.encode()) <= 1024


async def test_record_and_lookup_round_trip(store: LocalUpstream) -> None:
    sources = _sources()
    long_key = "p/" + "y" * 950
    for key in ("p/a.jsonl", "p/b.jsonl", long_key):
        await sources.record(store, B, ALICE, key, '"e1"', SENT)
    listed = [
        _listed("p/a.jsonl", '"e1"'),
        _listed("p/b.jsonl", '"e2"'),  # changed since the marker: stored figures
        _listed("p/c.jsonl", '"e1"'),  # no marker at all
        _listed(long_key, '"e1"'),
    ]
    found = await sources.lookup(store, B, ALICE, listed)
    assert found == {"p/a.jsonl": SENT, long_key: SENT}
    assert await sources.lookup(store, B, replace(ALICE, subject="bob"), listed) == {}
    assert sources.counts["sources_written"] == 3 and sources.counts["sources_used"] == 2


async def test_a_new_write_removes_the_writers_older_markers(store: LocalUpstream) -> None:
    sources = _sources()
    await sources.record(store, B, ALICE, "p/a.jsonl", '"e1"', SENT)
    await sources.record(store, B, ALICE, "p/a.jsonl", '"e2"', Sent("0" * 32, 3))
    page = await store.list_objects(B, prefix=ROOT)
    assert [o.key.split("/")[-2] for o in page.contents] == ["e2"]
    found = await sources.lookup(store, B, ALICE, [_listed("p/a.jsonl", '"e2"')])
    assert found == {"p/a.jsonl": Sent("0" * 32, 3)}


class CountingStore(LocalUpstream):
    """The local store, counting LIST calls."""

    lists = 0

    async def list_objects(self, bucket: str, **kwargs: Any) -> ListPage:
        self.lists += 1
        return await super().list_objects(bucket, **kwargs)


async def test_a_page_costs_one_index_list(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "store")
    await store.start()
    await store.create_bucket(B)
    try:
        sources = _sources()
        keys = [f"p/{i:04d}.jsonl" for i in range(50)]
        for key in keys:
            await sources.record(store, B, ALICE, key, '"e1"', SENT)
        store.lists = 0
        found = await sources.lookup(store, B, ALICE, [_listed(k, '"e1"') for k in keys])
        assert len(found) == 50 and store.lists == 1
    finally:
        await store.close()


async def test_non_empty_objects_under_the_prefix_are_not_markers(store: LocalUpstream) -> None:
    sources = _sources()
    w = sources.writer(ALICE)
    marker = sources.marker_key(B, w, "p/a.jsonl", '"e1"', SENT)
    await store.put_object(B, marker, Body.of(b"not empty"), {})
    assert await sources.lookup(store, B, ALICE, [_listed("p/a.jsonl", '"e1"')]) == {}


class RefusingStore(LocalUpstream):
    """A store that refuses writes under the sources prefix (a full disk, a
    bucket policy): the masked write itself must not fail."""

    async def put_object(
        self, bucket: str, key: str, body: Body, metadata: Metadata, **kwargs: Any
    ) -> PutResult:
        if key.startswith(ROOT):
            raise errors.AccessDenied("refused by the store")
        return await super().put_object(bucket, key, body, metadata, **kwargs)


async def test_a_marker_that_cannot_be_written_is_counted_not_raised(tmp_path: Path) -> None:
    store = RefusingStore(tmp_path / "store")
    await store.start()
    await store.create_bucket(B)
    try:
        sources = _sources()
        await sources.record(store, B, ALICE, "p/a.jsonl", '"e1"', SENT)
        assert sources.counts["sources_failed"] == 1
        assert sources.counts["sources_written"] == 0
        assert await sources.lookup(store, B, ALICE, [_listed("p/a.jsonl", '"e1"')]) == {}
    finally:
        await store.close()


@pytest.mark.parametrize("pieces", [[], [b""], [b"abc"], [b"a", b"bc"], [b"x" * (5 << 20), b"y"]])
async def test_the_tap_measures_what_passes(pieces: list[bytes]) -> None:
    async def source() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    tap = SentTap()
    got = [p async for p in tap.watch(source())]
    assert got == pieces
    whole = b"".join(pieces)
    assert tap.sent() == Sent(hashlib.md5(whole).hexdigest(), len(whole))


async def test_the_tap_has_no_figures_before_the_end() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    tap = SentTap()
    stream = tap.watch(source())
    await anext(stream)
    assert tap.sent() is None
