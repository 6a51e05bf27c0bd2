"""Views sent live to their first reader (masking/live.py, livecheck.py).

Against the real local directory store (no mocks): the tee streams the masked
bytes and stores the whole view at the end; a failure breaks the stream and
stores nothing; HEAD-like readers wait for the build; other profiles (another
bundle's) never see it.
"""

from __future__ import annotations

import asyncio
import codecs
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.masking.live import LiveView, open_view
from s3gate.masking.livecheck import EncodingWatch, refusing_rules
from s3gate.masking.viewkeys import ROOT
from s3gate.masking.views import View, ViewStore
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream
from tests.unit.transform.helpers import example, mask, profile

B = "bkt"
RECORD = b'{"client_ip": "10.1.2.3", "note": "mail jane@example.com from 192.168.7.42"}\n'
BIG = RECORD * 40_000  # ~3 MiB: several pieces from the store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket(B)
    try:
        yield upstream
    finally:
        await upstream.close()


def _viewstore(tmp_path: Path, limits: Limits | None = None) -> ViewStore:
    return ViewStore(tmp_path / "spool", limits or Limits())


async def _put(store: LocalUpstream, key: str, data: bytes, **meta: str) -> None:
    await store.put_object(B, key, Body.of(data), {"content-type": "application/x-ndjson", **meta})


async def _views_in_store(store: LocalUpstream) -> list[str]:
    page = await store.list_objects(B, prefix=ROOT)
    return [o.key for o in page.contents]


def _spooled(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "spool").glob("*")) if (tmp_path / "spool").exists() else []


async def _drain(live: LiveView) -> bytes:
    try:
        return b"".join([piece async for piece in live.pieces])
    finally:
        await live.close()


@pytest.mark.parametrize(
    ("name", "text", "refusing"),
    [
        ("analyst-view", None, ()),
        ("write-default", None, ()),
        ("write-strict", None, ("write-strict:private_key",)),
        ("fieldblock", "fields:\n  - {id: x, path: $.x, operator: block}\n", ("fieldblock:x",)),
        ("fieldhold", "fields:\n  - {id: y, key: '*y', operator: hold}\n", ("fieldhold:y",)),
        ("plain", "detectors:\n  email: redact\n", ()),
    ],
)
def test_rules_that_refuse_for_content_rule_out_a_live_view(
    name: str, text: str | None, refusing: tuple[str, ...]
) -> None:
    chosen = example(name) if text is None else profile(text, name)
    found = refusing_rules([chosen])
    assert set(refusing) <= set(found)
    assert bool(found) == bool(refusing)


def _utf16(data: bytes) -> bytes:
    return codecs.BOM_UTF16_LE + data.decode().encode("utf-16-le")


@pytest.mark.parametrize(
    ("content_type", "coding", "body", "live"),
    [
        ("application/x-ndjson", None, BIG, True),
        ("application/x-ndjson", None, RECORD, True),  # short: decided at its end
        ("application/x-ndjson", "gzip", gzip.compress(BIG), True),
        ("application/x-ndjson", None, gzip.compress(BIG), True),  # sniffed gzip
        ("application/x-ndjson", None, _utf16(RECORD * 2000), False),  # BOM
        ("application/x-ndjson", "gzip", gzip.compress(_utf16(RECORD * 2000)), False),
        ("text/plain; charset=utf-16-le", None, RECORD.decode().encode("utf-16-le"), False),
        ("text/plain; charset=latin-1", None, RECORD * 2000, True),
        ("application/x-ndjson", "x-unknown", BIG, False),  # nobody can undo it
        ("application/x-ndjson", "gzip", b"not gzip at all" * 10_000, False),
    ],
)
async def test_encoding_watch_lets_only_ascii_compatible_text_go_live(
    content_type: str, coding: str | None, body: bytes, live: bool
) -> None:
    meta = {"content-type": content_type}
    if coding is not None:
        meta["content-encoding"] = coding
    watch = EncodingWatch(meta, "t.jsonl", Limits())

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    seen = b"".join([c async for c in watch.watch(chunks())])
    assert seen == body  # the bytes pass untouched
    assert watch.live is live


async def test_first_read_streams_and_stores_the_view_then_reads_find_it(
    store: LocalUpstream, tmp_path: Path
) -> None:
    views = _viewstore(tmp_path)
    profiles = [example("analyst-view")]
    await _put(store, "a.jsonl", BIG)
    expected, _ = mask(profiles, BIG)
    live = await open_view(views, store, B, "a.jsonl", profiles)
    assert isinstance(live, LiveView)
    assert await _views_in_store(store) == []  # nothing stored before the end
    body = await _drain(live)
    assert body == expected and b"192.168.7.42" not in body
    assert live.summary.complete
    (stored,) = await _views_in_store(store)
    assert stored.endswith(f"-{len(expected)}")
    again = await open_view(views, store, B, "a.jsonl", profiles)
    assert isinstance(again, View) and not again.built and again.length == len(expected)
    assert views.counts["read"] == 1 and views.counts["found"] == 1
    assert _spooled(tmp_path) == []


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        (b'{"x": "' + b"a" * 300_000 + b'"}\n', errors.EntityTooLarge),  # over the limit
        (b'{"x": "\xff\xfe bad utf-8"}\n', errors.AccessDenied),  # binary rule, late
    ],
)
async def test_a_failure_mid_stream_breaks_it_and_stores_nothing(
    store: LocalUpstream, tmp_path: Path, tail: bytes, error: type[errors.S3Error]
) -> None:
    views = _viewstore(tmp_path, Limits(max_record_bytes=256 * 1024))
    profiles = [example("analyst-view")]
    await _put(store, "bad.jsonl", BIG + tail)
    live = await open_view(views, store, B, "bad.jsonl", profiles)
    assert isinstance(live, LiveView)
    got = bytearray()
    with pytest.raises(error):
        async for piece in live.pieces:
            got += piece
    await live.close()
    assert len(got) > 0  # bytes went out before the failure: the response must break
    assert await _views_in_store(store) == []
    assert _spooled(tmp_path) == []
    with pytest.raises(error):  # HEAD (a build) refuses it as an S3 error
        await views.view(store, B, "bad.jsonl", profiles)
    assert await _views_in_store(store) == []


async def test_a_reader_that_leaves_abandons_the_build(
    store: LocalUpstream, tmp_path: Path
) -> None:
    views = _viewstore(tmp_path)
    profiles = [example("analyst-view")]
    await _put(store, "left.jsonl", BIG)
    live = await open_view(views, store, B, "left.jsonl", profiles)
    assert isinstance(live, LiveView)
    await live.pieces.__anext__()
    await live.close()  # what the response's release does when the client left
    assert await _views_in_store(store) == []
    assert _spooled(tmp_path) == []
    view = await views.view(store, B, "left.jsonl", profiles)  # nothing stale waits
    assert view.built


@pytest.mark.parametrize(
    ("name", "body", "meta"),
    [
        ("blocking", BIG, {}),  # a `block` rule could fire on the last record
        ("analyst-view", _utf16(RECORD * 2000), {"content-type": "text/plain"}),
    ],
)
async def test_bodies_that_may_not_go_live_are_built_first(
    store: LocalUpstream, tmp_path: Path, name: str, body: bytes, meta: dict[str, str]
) -> None:
    views = _viewstore(tmp_path)
    chosen = (
        example(name)
        if name == "analyst-view"
        else profile("detectors:\n  ipv4: redact\n  email: block\n", name)
    )
    await _put(store, "k.txt", body, **meta)
    if name == "blocking":
        with pytest.raises(errors.AccessDenied):
            await open_view(views, store, B, "k.txt", [chosen])
        assert await _views_in_store(store) == []
        return
    got = await open_view(views, store, B, "k.txt", [chosen])
    assert isinstance(got, View) and got.built


async def test_head_waits_for_the_live_build_and_a_second_get_streams_its_own(
    store: LocalUpstream, tmp_path: Path
) -> None:
    views = _viewstore(tmp_path)
    profiles = [example("analyst-view")]
    await _put(store, "c.jsonl", BIG)
    expected, _ = mask(profiles, BIG)
    first = await open_view(views, store, B, "c.jsonl", profiles)
    second = await open_view(views, store, B, "c.jsonl", profiles)
    assert isinstance(first, LiveView) and isinstance(second, LiveView)
    head = asyncio.create_task(views.view(store, B, "c.jsonl", profiles))
    await asyncio.sleep(0.05)
    assert not head.done()  # waiting for the first reader's build
    one, two = await asyncio.gather(_drain(first), _drain(second))
    assert one == two == expected
    view = await head
    assert view.length == len(expected)
    assert views.counts["read"] == 1  # one view stored, not three
    assert len(await _views_in_store(store)) == 1


async def test_another_bundles_profile_never_gets_this_view(
    store: LocalUpstream, tmp_path: Path
) -> None:
    views = _viewstore(tmp_path)
    old = example("analyst-view")
    text = Path(old.path).read_text().replace("profile: analyst-view\n", "")
    new = profile(text.replace("  ipv4: redact\n", "  ipv4: {operator: mask, keep_last: 2}\n"),
                  "analyst-view")  # fmt: skip
    assert new.digest != old.digest
    await _put(store, "b.jsonl", BIG)
    body_old = await _drain(await _live(views, store, [old]))
    body_new = await _drain(await _live(views, store, [new]))  # not the stored one
    assert body_new != body_old and body_new == mask([new], BIG)[0]
    assert len(await _views_in_store(store)) == 2  # one per family


async def _live(views: ViewStore, store: LocalUpstream, profiles: list[Profile]) -> LiveView:
    got = await open_view(views, store, B, "b.jsonl", profiles)
    assert isinstance(got, LiveView)
    return got
