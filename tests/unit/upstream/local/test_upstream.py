"""LocalUpstream against S3's behaviour: buckets, keys, listing, ranges, conditions,
copy, multipart, failure atomicity, durability, concurrency and bounded memory."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import os
import random
import sqlite3
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.s3.model import ByteRange, Conditions
from s3gate.upstream.base import Body, ObjectStream, Upstream
from s3gate.upstream.local import LocalUpstream

MiB = 1024 * 1024


# Fixtures live here rather than in a conftest: other upstream tests share this folder.


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
async def store(root: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(root)
    await upstream.start()
    try:
        yield upstream
    finally:
        await upstream.close()


@pytest.fixture
async def bucket(store: LocalUpstream) -> str:
    await store.create_bucket("bkt")
    return "bkt"


# ---- helpers ---------------------------------------------------------------------


def make_body(
    data: bytes,
    *,
    chunk: int = 64 * 1024,
    length: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
) -> Body:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    return Body(
        chunks(),
        len(data) if length is None else length,
        sha256_hex=sha256,
        content_md5=md5,
    )


def failing_body(good: bytes, declared: int) -> Body:
    """A body whose iterator raises half-way, as the gateway signals a failed check."""

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(good), MiB):
            yield good[i : i + MiB]
        raise RuntimeError("verification failed")

    return Body(chunks(), declared)


async def read_all(stream: ObjectStream) -> bytes:
    try:
        return b"".join([chunk async for chunk in stream.body])
    finally:
        await stream.aclose()


async def get_bytes(store: LocalUpstream, bucket: str, key: str) -> bytes:
    return await read_all(await store.get_object(bucket, key))


def quoted_md5(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def utf8_sorted(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode())


async def put(store: LocalUpstream, bucket: str, key: str, data: bytes = b"x") -> str:
    return (await store.put_object(bucket, key, make_body(data), {})).etag


def test_implements_the_protocol(root: Path) -> None:
    upstream: Upstream = LocalUpstream(root)  # mypy checks the structural match
    assert upstream is not None


# ---- buckets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("abc", True),
        ("my-bucket", True),
        ("my.bucket.name", True),
        ("0bucket9", True),
        ("a" * 63, True),
        ("a-.b", True),
        ("ab", False),
        ("a" * 64, False),
        ("", False),
        ("MyBucket", False),
        ("my_bucket", False),
        ("-abc", False),
        ("abc-", False),
        (".abc", False),
        ("abc.", False),
        ("a..b", False),
        ("192.168.5.4", False),
        ("xn--abc", False),
        ("sthree-abc", False),
        ("abc-s3alias", False),
        ("abc--ol-s3", False),
        ("héllo", False),
        ("abc\n", False),
        ("a b c", False),
    ],
)
async def test_bucket_name_validation(store: LocalUpstream, name: str, valid: bool) -> None:
    if valid:
        await store.create_bucket(name)
        await store.head_bucket(name)
        assert [b.name for b in await store.list_buckets()] == [name]
    else:
        with pytest.raises(errors.InvalidBucketName):
            await store.create_bucket(name)
        assert await store.list_buckets() == []


async def test_bucket_lifecycle(store: LocalUpstream) -> None:
    for name in ("zeta", "alpha", "mid"):
        await store.create_bucket(name)
    buckets = await store.list_buckets()
    assert [b.name for b in buckets] == ["alpha", "mid", "zeta"]
    assert all(b.created.tzinfo is not None and b.created.microsecond == 0 for b in buckets)
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        await store.create_bucket("alpha")
    assert await store.get_bucket_location("alpha") == ""
    await put(store, "alpha", "k")
    with pytest.raises(errors.BucketNotEmpty):
        await store.delete_bucket("alpha")
    await store.delete_object("alpha", "k")
    await store.delete_bucket("alpha")
    for call in (
        store.head_bucket("alpha"),
        store.delete_bucket("alpha"),
        store.get_bucket_location("alpha"),
        store.list_objects("alpha"),
        store.put_object("alpha", "k", make_body(b"x"), {}),
        store.get_object("alpha", "k"),
        store.head_object("alpha", "k"),
        store.delete_object("alpha", "k"),
        store.create_multipart_upload("alpha", "k", {}),
        store.list_multipart_uploads("alpha"),
    ):
        with pytest.raises(errors.NoSuchBucket):
            await call


async def test_delete_bucket_discards_unfinished_uploads(store: LocalUpstream, root: Path) -> None:
    # As on AWS: in-progress multipart uploads do not keep a bucket alive.
    await store.create_bucket("bkt")
    upload_id = await store.create_multipart_upload("bkt", "k", {})
    await store.upload_part("bkt", "k", upload_id, 1, make_body(b"part"))
    await store.delete_bucket("bkt")
    assert files(root / "blobs") == []
    await store.create_bucket("bkt")
    assert (await store.list_multipart_uploads("bkt")).uploads == []
    with pytest.raises(errors.NoSuchUpload):
        await store.list_parts("bkt", "k", upload_id)


# ---- keys ------------------------------------------------------------------------

ODD_KEYS = [
    "a",
    "a/b",
    "a/",
    "/leading",
    "//double",
    "trailing/",
    "..",
    "../escape",
    "a/../../b",
    ".",
    "back\\slash",
    "C:\\windows",
    "with space",
    "tab\there",
    "new\nline",
    "%2F%00",
    "?query=1&x#frag",
    "ü",
    "z",
    "日本語/キー",
    "emoji😀",
    "😀",
    "\uffff",
    "\U0010ffff",
    "é" * 512,  # exactly 1024 UTF-8 bytes
    "x" * 1024,
]


async def test_odd_keys_round_trip_and_list_in_utf8_order(
    store: LocalUpstream, bucket: str, root: Path
) -> None:
    for key in ODD_KEYS:
        await put(store, bucket, key, key.encode())
    for key in ODD_KEYS:
        assert await get_bytes(store, bucket, key) == key.encode()
        assert (await store.head_object(bucket, key)).size == len(key.encode())
    page = await store.list_objects(bucket)
    listed = [o.key for o in page.contents]
    assert listed == utf8_sorted(ODD_KEYS)
    # Byte order, not UTF-16 order (which would put the surrogate pair of 😀 first);
    # and ASCII before any non-ASCII character.
    assert listed.index("\uffff") < listed.index("😀")
    assert listed.index("z") < listed.index("ü") < listed.index("日本語/キー")
    # Nothing about a key leaks into the file system.
    assert all(len(p.name) == 32 for p in files(root / "blobs"))


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("x" * 1025, errors.KeyTooLongError),
        ("é" * 512 + "x", errors.KeyTooLongError),
        ("", errors.InvalidArgument),
        ("\udcff", errors.InvalidArgument),
    ],
)
async def test_bad_keys(store: LocalUpstream, bucket: str, key: str, error: type) -> None:
    with pytest.raises(error):
        await store.put_object(bucket, key, make_body(b"x"), {})
    with pytest.raises(error):
        await store.head_object(bucket, key)


# ---- listing ---------------------------------------------------------------------


def model_listing(
    keys: list[str], prefix: str, delimiter: str | None, after: str | None
) -> list[str]:
    """Entries (keys and common prefixes) after `after`, straight from the definition."""
    out: list[str] = []
    for key in utf8_sorted(keys):
        if not key.startswith(prefix) or (after is not None and key.encode() <= after.encode()):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            # A common prefix sorts before its keys: if `after` is inside it, it was listed.
            if (after is None or not after.startswith(common)) and common not in out:
                out.append(common)
        else:
            out.append(key)
    return out


async def walk(
    store: LocalUpstream,
    bucket: str,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    after: str | None = None,
) -> list[str]:
    entries: list[str] = []
    for _ in range(10_000):
        page = await store.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys, after=after
        )
        got = utf8_sorted([o.key for o in page.contents] + page.common_prefixes)
        assert len(got) <= max_keys
        entries += got
        if not page.is_truncated:
            assert page.next_after is None
            return entries
        assert len(got) == max_keys
        assert page.next_after == got[-1]
        after = page.next_after
    raise AssertionError("listing never ended")


async def test_listing_matches_model(store: LocalUpstream, bucket: str) -> None:
    rng = random.Random(20240601)
    pieces = ["a", "b", "/", "é", "日", "-", "ab", "z", "/x", "~", "A", "0"]
    keys: set[str] = set()
    while len(keys) < 300:
        keys.add("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))))
    key_list = sorted(keys)
    for i in range(0, len(key_list), 25):
        await asyncio.gather(*(put(store, bucket, k) for k in key_list[i : i + 25]))

    for prefix in ("", "a", "a/", "é", "/", "ab", "q"):
        for delimiter in (None, "/", "é", "ab"):
            for max_keys in (1, 3, 10, 1000):
                expected = model_listing(key_list, prefix, delimiter, None)
                assert await walk(store, bucket, prefix, delimiter, max_keys) == expected, (
                    prefix,
                    delimiter,
                    max_keys,
                )
            # Resuming from arbitrary points, including inside rolled-up prefixes.
            everything = model_listing(key_list, prefix, delimiter, None)
            starts = rng.sample(key_list, 5) + everything[:: max(1, len(everything) // 4)]
            for after in starts:
                expected = model_listing(key_list, prefix, delimiter, after)
                assert await walk(store, bucket, prefix, delimiter, 7, after) == expected, (
                    prefix,
                    delimiter,
                    after,
                )


async def test_listing_edges(store: LocalUpstream, bucket: str) -> None:
    for key in ("asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla", "p", "p/q"):
        await put(store, bucket, key)
    empty = await store.list_objects(bucket, max_keys=0)
    assert (empty.contents, empty.common_prefixes, empty.is_truncated) == ([], [], False)
    with pytest.raises(errors.InvalidArgument):
        await store.list_objects(bucket, max_keys=-1)
    # A rolled-up marker skips its keys; the last prefix filling the page is not "truncated".
    page = await store.list_objects(bucket, delimiter="/", after="boo/", max_keys=1)
    assert page.common_prefixes == ["cquux/"]
    assert page.is_truncated
    page = await store.list_objects(bucket, delimiter="/", after="boo/", max_keys=3)
    assert (page.common_prefixes, [o.key for o in page.contents]) == (["cquux/", "p/"], ["p"])
    assert not page.is_truncated
    page = await store.list_objects(bucket, delimiter="/", after="p", max_keys=1)
    assert (page.common_prefixes, page.is_truncated, page.next_after) == (["p/"], False, None)
    # A key equal to the prefix is listed; infos carry size, quoted ETag, aware dates.
    page = await store.list_objects(bucket, prefix="p")
    assert [o.key for o in page.contents] == ["p", "p/q"]
    info = page.contents[0]
    assert (info.size, info.etag, info.storage_class) == (1, quoted_md5(b"x"), "STANDARD")
    assert info.last_modified.tzinfo is not None
    assert len((await store.list_objects(bucket, max_keys=5000)).contents) == 7


async def test_listing_skips_a_big_rolled_up_prefix(store: LocalUpstream, bucket: str) -> None:
    await asyncio.gather(*(put(store, bucket, f"big/{i:04d}") for i in range(300)))
    await put(store, bucket, "c")
    page = await store.list_objects(bucket, delimiter="/", max_keys=1)
    assert (page.common_prefixes, page.is_truncated, page.next_after) == (["big/"], True, "big/")
    page = await store.list_objects(bucket, delimiter="/", max_keys=1, after="big/")
    assert ([o.key for o in page.contents], page.is_truncated) == (["c"], False)


# ---- ranges ----------------------------------------------------------------------

DIGITS = b"0123456789"


@pytest.mark.parametrize(
    ("rng", "content", "content_range"),
    [
        (ByteRange(0, 0), b"0", "bytes 0-0/10"),
        (ByteRange(0, None), DIGITS, "bytes 0-9/10"),
        (ByteRange(3, 5), b"345", "bytes 3-5/10"),
        (ByteRange(9, 9), b"9", "bytes 9-9/10"),
        (ByteRange(8, 100), b"89", "bytes 8-9/10"),
        (ByteRange(0, 9), DIGITS, "bytes 0-9/10"),
        (ByteRange(None, 3), b"789", "bytes 7-9/10"),
        (ByteRange(None, 10), DIGITS, "bytes 0-9/10"),
        (ByteRange(None, 100), DIGITS, "bytes 0-9/10"),
        # Malformed (last < first): ignored as RFC 7233 says, the whole object is sent.
        (ByteRange(5, 2), DIGITS, None),
    ],
)
async def test_ranges(
    store: LocalUpstream,
    bucket: str,
    rng: ByteRange,
    content: bytes,
    content_range: str | None,
) -> None:
    await put(store, bucket, "digits", DIGITS)
    stream = await store.get_object(bucket, "digits", byte_range=rng)
    assert (stream.content_range, stream.content_length) == (content_range, len(content))
    assert stream.status == (206 if content_range else 200)
    assert stream.head.size == 10
    assert await read_all(stream) == content


@pytest.mark.parametrize(
    ("data", "rng"),
    [
        (DIGITS, ByteRange(10, None)),
        (DIGITS, ByteRange(10, 20)),
        (DIGITS, ByteRange(None, 0)),
        (b"", ByteRange(0, None)),
        (b"", ByteRange(0, 0)),
        (b"", ByteRange(None, 5)),
    ],
)
async def test_unsatisfiable_ranges(
    store: LocalUpstream, bucket: str, data: bytes, rng: ByteRange
) -> None:
    await put(store, bucket, "obj", data)
    with pytest.raises(errors.InvalidRange) as caught:
        await store.get_object(bucket, "obj", byte_range=rng)
    assert caught.value.extra == {
        "RangeRequested": rng.header(),
        "ActualObjectSize": str(len(data)),
    }
    assert caught.value.headers == {"Content-Range": f"bytes */{len(data)}"}


async def test_empty_object_without_range(store: LocalUpstream, bucket: str) -> None:
    etag = await put(store, bucket, "empty", b"")
    stream = await store.get_object(bucket, "empty")
    assert (stream.status, stream.content_length, stream.head.etag) == (200, 0, etag)
    assert await read_all(stream) == b""


# ---- conditions --------------------------------------------------------------------

OTHER = '"0123456789abcdef0123456789abcdef"'
OK, FAIL, NOT_MODIFIED = "ok", "412", "304"

# (if_match, if_none_match, if_modified_since, if_unmodified_since) -> outcome.
# ETAG / BARE / EARLY / LATE / SAME are filled in per object below.
CONDITION_CASES = [
    (("ETAG", None, None, None), OK),
    (("BARE", None, None, None), OK),
    (("*", None, None, None), OK),
    ((f"{OTHER}, ETAG", None, None, None), OK),
    ((OTHER, None, None, None), FAIL),
    ((None, None, None, "EARLY"), FAIL),
    ((None, None, None, "LATE"), OK),
    ((None, None, None, "SAME"), OK),
    ((None, None, None, "not a date"), OK),
    (("ETAG", None, None, "EARLY"), OK),  # If-Unmodified-Since ignored after If-Match
    ((OTHER, None, None, "LATE"), FAIL),
    ((None, "ETAG", None, None), NOT_MODIFIED),
    ((None, "BARE", None, None), NOT_MODIFIED),
    ((None, "*", None, None), NOT_MODIFIED),
    ((None, f"{OTHER},ETAG", None, None), NOT_MODIFIED),
    ((None, OTHER, None, None), OK),
    ((None, None, "EARLY", None), OK),
    ((None, None, "LATE", None), NOT_MODIFIED),
    ((None, None, "SAME", None), NOT_MODIFIED),
    ((None, None, "garbage", None), OK),
    ((None, OTHER, "LATE", None), OK),  # If-Modified-Since ignored after If-None-Match
    ((None, "ETAG", "EARLY", None), NOT_MODIFIED),
    ((OTHER, "ETAG", None, None), FAIL),  # If-Match is evaluated first
    ((None, "ETAG", None, "EARLY"), FAIL),
    (("ETAG", "ETAG", None, None), NOT_MODIFIED),
]


async def conditions_for(
    store: LocalUpstream, bucket: str, key: str, raw: tuple[str | None, ...]
) -> Conditions:
    head = await store.head_object(bucket, key)
    lm = head.last_modified
    values = {
        "ETAG": head.etag,
        "BARE": head.etag.strip('"'),
        "EARLY": format_datetime(lm - timedelta(days=1), usegmt=True),
        "LATE": format_datetime(lm + timedelta(days=1), usegmt=True),
        "SAME": format_datetime(lm, usegmt=True),
    }

    def fill(value: str | None) -> str | None:
        if value is None:
            return None
        for name, real in values.items():
            value = value.replace(name, real)
        return value

    im, inm, ims, ius = (fill(v) for v in raw)
    return Conditions(
        if_match=im, if_none_match=inm, if_modified_since=ims, if_unmodified_since=ius
    )


@pytest.mark.parametrize(("raw", "outcome"), CONDITION_CASES)
async def test_conditions_on_get_and_head(
    store: LocalUpstream, bucket: str, raw: tuple[str | None, ...], outcome: str
) -> None:
    etag = await put(store, bucket, "obj", b"payload")
    conditions = await conditions_for(store, bucket, "obj", raw)
    for call in ("get", "head"):
        try:
            if call == "get":
                assert await read_all(await store.get_object(bucket, "obj", conditions=conditions))
            else:
                await store.head_object(bucket, "obj", conditions)
        except errors.NotModified as exc:
            assert outcome == NOT_MODIFIED, call
            assert exc.headers["ETag"] == etag
        except errors.PreconditionFailed:
            assert outcome == FAIL, call
        else:
            assert outcome == OK, call


@pytest.mark.parametrize(("raw", "outcome"), CONDITION_CASES)
async def test_conditions_on_copy_source(
    store: LocalUpstream, bucket: str, raw: tuple[str | None, ...], outcome: str
) -> None:
    await put(store, bucket, "src", b"payload")
    conditions = await conditions_for(store, bucket, "src", raw)
    try:
        await store.copy_object(bucket, "src", bucket, "dst", conditions=conditions)
    except errors.PreconditionFailed:
        assert outcome in (FAIL, NOT_MODIFIED)  # a copy never answers 304
    else:
        assert outcome == OK
        assert await get_bytes(store, bucket, "dst") == b"payload"


async def test_conditions_on_missing_object_are_404(store: LocalUpstream, bucket: str) -> None:
    with pytest.raises(errors.NoSuchKey):
        await store.get_object(bucket, "nope", conditions=Conditions(if_match="*"))


async def test_range_evaluated_after_conditions(store: LocalUpstream, bucket: str) -> None:
    etag = await put(store, bucket, "obj", b"abc")
    with pytest.raises(errors.NotModified):
        await store.get_object(
            bucket, "obj", byte_range=ByteRange(50, None), conditions=Conditions(if_none_match=etag)
        )


# ---- metadata and copy ---------------------------------------------------------------

META = {
    "content-type": "application/x-ndjson; charset=utf-8",
    "content-encoding": "gzip",
    "cache-control": "no-cache",
    "x-amz-meta-owner": "team-日本",
    "x-amz-meta-empty": "",
}


async def test_metadata_round_trip(store: LocalUpstream, bucket: str) -> None:
    await store.put_object(bucket, "k", make_body(b"data"), META)
    assert dict((await store.head_object(bucket, "k")).metadata) == META
    stream = await store.get_object(bucket, "k")
    assert dict(stream.head.metadata) == META
    await stream.aclose()
    await store.put_object(bucket, "k", make_body(b"new"), {})
    assert dict((await store.head_object(bucket, "k")).metadata) == {}


async def test_copy_and_replace_metadata(store: LocalUpstream, bucket: str) -> None:
    await store.create_bucket("other")
    etag = (await store.put_object(bucket, "src", make_body(b"content"), META)).etag
    copied = await store.copy_object(bucket, "src", "other", "copy")
    assert copied.etag == etag
    assert copied.last_modified.tzinfo is not None
    head = await store.head_object("other", "copy")
    assert (dict(head.metadata), head.etag, head.last_modified) == (
        META,
        etag,
        copied.last_modified,
    )
    replaced = {"content-type": "text/plain", "x-amz-meta-new": "1"}
    await store.copy_object(bucket, "src", bucket, "dst", metadata=replaced)
    assert dict((await store.head_object(bucket, "dst")).metadata) == replaced
    # The copy is independent of its source.
    await store.delete_object(bucket, "src")
    assert await get_bytes(store, "other", "copy") == b"content"
    assert await get_bytes(store, bucket, "dst") == b"content"


async def test_copy_onto_itself(store: LocalUpstream, bucket: str, root: Path) -> None:
    await store.put_object(bucket, "k", make_body(b"content"), META)
    with pytest.raises(errors.InvalidRequest):
        await store.copy_object(bucket, "k", bucket, "k")
    await store.copy_object(bucket, "k", bucket, "k", metadata={"x-amz-meta-v": "2"})
    assert dict((await store.head_object(bucket, "k")).metadata) == {"x-amz-meta-v": "2"}
    assert await get_bytes(store, bucket, "k") == b"content"
    assert len(files(root / "blobs")) == 1


async def test_copy_without_hard_links(
    store: LocalUpstream, bucket: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError("this file system has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    data = os.urandom(3 * MiB)
    await put(store, bucket, "src", data)
    await store.copy_object(bucket, "src", bucket, "dst")
    assert await get_bytes(store, bucket, "dst") == data
    assert len(files(root / "blobs")) == 2
    assert files(root / "tmp") == []


async def test_copy_errors(store: LocalUpstream, bucket: str) -> None:
    await put(store, bucket, "src")
    with pytest.raises(errors.NoSuchKey):
        await store.copy_object(bucket, "missing", bucket, "dst")
    with pytest.raises(errors.NoSuchBucket):
        await store.copy_object(bucket, "src", "nobucket", "dst")
    with pytest.raises(errors.NoSuchBucket):
        await store.copy_object("nobucket", "src", bucket, "dst")


# ---- deletes ---------------------------------------------------------------------


async def test_deletes(store: LocalUpstream, bucket: str, root: Path) -> None:
    await put(store, bucket, "a")
    await put(store, bucket, "b")
    await store.delete_object(bucket, "missing")  # S3: silently fine
    outcomes = await store.delete_objects(bucket, ["a", "missing", "x" * 2000, "b"])
    assert [(o.key, o.error_code) for o in outcomes] == [
        ("a", None),
        ("missing", None),
        ("x" * 2000, "KeyTooLongError"),
        ("b", None),
    ]
    assert (await store.list_objects(bucket)).contents == []
    assert files(root / "blobs") == []
    with pytest.raises(errors.NoSuchKey):
        await store.head_object(bucket, "a")


# ---- body verification and failure atomicity --------------------------------------


async def test_body_digests(store: LocalUpstream, bucket: str, root: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    sha = hashlib.sha256(data).hexdigest()
    etag = (await store.put_object(bucket, "ok", make_body(data, md5=md5, sha256=sha), {})).etag
    assert etag == quoted_md5(data)
    bad_md5 = base64.b64encode(hashlib.md5(b"other", usedforsecurity=False).digest()).decode()
    cases: list[tuple[Body, type[errors.S3Error]]] = [
        (make_body(data, md5=bad_md5), errors.BadDigest),
        (make_body(data, md5="not base64!"), errors.InvalidDigest),
        (make_body(data, md5=base64.b64encode(b"short").decode()), errors.InvalidDigest),
        (make_body(data, sha256="0" * 64), errors.XAmzContentSHA256Mismatch),
        (make_body(data, length=len(data) + 1), errors.IncompleteBody),
        (make_body(data, length=len(data) - 1), errors.IncompleteBody),
    ]
    for body, error in cases:
        with pytest.raises(error):
            await store.put_object(bucket, "bad", body, {})
        with pytest.raises(errors.NoSuchKey):
            await store.head_object(bucket, "bad")
    assert files(root / "tmp") == []
    assert len(files(root / "blobs")) == 1


async def test_failing_iterator_on_put_stores_nothing(
    store: LocalUpstream, bucket: str, root: Path
) -> None:
    await put(store, bucket, "kept", b"old content")
    for key in ("new", "kept"):
        with pytest.raises(RuntimeError, match="verification failed"):
            await store.put_object(bucket, key, failing_body(b"z" * 3 * MiB, 6 * MiB), {})
    with pytest.raises(errors.NoSuchKey):
        await store.head_object(bucket, "new")
    assert await get_bytes(store, bucket, "kept") == b"old content"
    assert files(root / "tmp") == []
    assert len(files(root / "blobs")) == 1


async def test_failing_iterator_on_upload_part_stores_nothing(
    store: LocalUpstream, bucket: str, root: Path
) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    with pytest.raises(RuntimeError):
        await store.upload_part(bucket, "k", upload_id, 1, failing_body(b"z" * 2 * MiB, 6 * MiB))
    assert (await store.list_parts(bucket, "k", upload_id)).parts == []
    assert files(root / "tmp") == []
    assert files(root / "blobs") == []


async def test_cancelled_put_leaves_nothing(store: LocalUpstream, bucket: str, root: Path) -> None:
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"a" * 2 * MiB
        started.set()
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(store.put_object(bucket, "k", Body(stalls(), 4 * MiB), {}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files(root / "tmp") == []
    assert files(root / "blobs") == []


# ---- multipart --------------------------------------------------------------------


async def upload_parts(
    store: LocalUpstream, bucket: str, key: str, upload_id: str, sizes: list[int]
) -> tuple[list[tuple[int, str]], bytes]:
    parts, content = [], b""
    for number, size in enumerate(sizes, start=1):
        data = bytes([number]) * size
        etag = await store.upload_part(bucket, key, upload_id, number, make_body(data, chunk=MiB))
        assert etag == quoted_md5(data)
        parts.append((number, etag))
        content += data
    return parts, content


async def test_multipart_happy_path(store: LocalUpstream, bucket: str, root: Path) -> None:
    upload_id = await store.create_multipart_upload(bucket, "big", META)
    # Re-sending a part replaces it.
    await store.upload_part(bucket, "big", upload_id, 2, make_body(b"replaced later"))
    parts, content = await upload_parts(store, bucket, "big", upload_id, [5 * MiB, 5 * MiB, 1000])
    listed = await store.list_parts(bucket, "big", upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [
        (n, e, s) for (n, e), s in zip(parts, [5 * MiB, 5 * MiB, 1000], strict=True)
    ]
    result = await store.complete_multipart_upload(bucket, "big", upload_id, parts)
    sizes = [(1, 5 * MiB), (2, 5 * MiB), (3, 1000)]
    joined = b"".join(hashlib.md5(bytes([n]) * s, usedforsecurity=False).digest() for n, s in sizes)
    assert result.etag == f'"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-3"'
    head = await store.head_object(bucket, "big")
    # No parts count on a plain HEAD/GET: S3 sends it only when a part is requested.
    assert (head.size, head.etag, head.parts_count, dict(head.metadata)) == (
        len(content),
        result.etag,
        None,
        META,
    )
    assert await get_bytes(store, bucket, "big") == content
    assert (await store.list_multipart_uploads(bucket)).uploads == []
    assert len(files(root / "blobs")) == 1  # parts and the replaced part are gone
    with pytest.raises(errors.NoSuchUpload):
        await store.complete_multipart_upload(bucket, "big", upload_id, parts)


async def test_multipart_single_small_part_and_unquoted_etags(
    store: LocalUpstream, bucket: str
) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    parts, content = await upload_parts(store, bucket, "k", upload_id, [10])
    result = await store.complete_multipart_upload(
        bucket, "k", upload_id, [(n, e.strip('"')) for n, e in parts]
    )
    assert result.etag.endswith('-1"')
    assert await get_bytes(store, bucket, "k") == content


@pytest.mark.parametrize(
    ("request_parts", "error"),
    [
        ([(2, "E2"), (1, "E1")], errors.InvalidPartOrder),
        ([(1, "E1"), (1, "E1")], errors.InvalidPartOrder),
        ([(1, "E1"), (4, "E2")], errors.InvalidPart),
        ([(1, "E1"), (2, OTHER)], errors.InvalidPart),
        ([(2, "E2"), (3, "E3")], errors.EntityTooSmall),
        ([], errors.MalformedXML),
    ],
)
async def test_complete_errors_keep_the_upload(
    store: LocalUpstream,
    bucket: str,
    request_parts: list[tuple[int, str]],
    error: type[errors.S3Error],
) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    parts, content = await upload_parts(store, bucket, "k", upload_id, [5 * MiB, 100, 5])
    etags = {f"E{n}": e for n, e in parts}
    with pytest.raises(error):
        await store.complete_multipart_upload(
            bucket, "k", upload_id, [(n, etags.get(e, e)) for n, e in request_parts]
        )
    with pytest.raises(errors.NoSuchKey):
        await store.head_object(bucket, "k")
    # The upload is still open: a corrected request completes it.
    await store.complete_multipart_upload(bucket, "k", upload_id, [parts[0], parts[1]])
    assert await get_bytes(store, bucket, "k") == content[: 5 * MiB + 100]


async def test_multipart_argument_errors(store: LocalUpstream, bucket: str) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    for number in (0, 10001, -1):
        with pytest.raises(errors.InvalidArgument):
            await store.upload_part(bucket, "k", upload_id, number, make_body(b"x"))
    for call in (
        store.upload_part(bucket, "k", "nope", 1, make_body(b"x")),
        store.upload_part(bucket, "other-key", upload_id, 1, make_body(b"x")),
        store.complete_multipart_upload(bucket, "k", "nope", [(1, OTHER)]),
        store.abort_multipart_upload(bucket, "k", "nope"),
        store.list_parts(bucket, "k", "nope"),
    ):
        with pytest.raises(errors.NoSuchUpload):
            await call
    await store.upload_part(bucket, "k", upload_id, 10000, make_body(b"x"))


async def test_abort(store: LocalUpstream, bucket: str, root: Path) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    await upload_parts(store, bucket, "k", upload_id, [100, 200])
    assert len(files(root / "blobs")) == 2
    await store.abort_multipart_upload(bucket, "k", upload_id)
    assert files(root / "blobs") == []
    with pytest.raises(errors.NoSuchUpload):
        await store.list_parts(bucket, "k", upload_id)
    with pytest.raises(errors.NoSuchUpload):
        await store.abort_multipart_upload(bucket, "k", upload_id)
    with pytest.raises(errors.NoSuchUpload):
        await store.upload_part(bucket, "k", upload_id, 1, make_body(b"x"))


async def test_list_parts_pagination(store: LocalUpstream, bucket: str) -> None:
    upload_id = await store.create_multipart_upload(bucket, "k", {})
    await upload_parts(store, bucket, "k", upload_id, [1] * 7)
    pages, marker = [], 0
    while True:
        page = await store.list_parts(
            bucket, "k", upload_id, max_parts=3, part_number_marker=marker
        )
        pages.append([p.part_number for p in page.parts])
        if not page.is_truncated:
            assert page.next_part_number_marker is None
            break
        assert page.next_part_number_marker == pages[-1][-1]
        marker = page.next_part_number_marker
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    rest = await store.list_parts(bucket, "k", upload_id, part_number_marker=5)
    assert [p.part_number for p in rest.parts] == [6, 7]
    with pytest.raises(errors.InvalidArgument):
        await store.list_parts(bucket, "k", upload_id, max_parts=-1)


async def test_list_multipart_uploads_pagination(store: LocalUpstream, bucket: str) -> None:
    created: list[tuple[str, str]] = []
    for key in ("b/2", "a", "c", "b/1", "a", "b/1"):
        created.append((key, await store.create_multipart_upload(bucket, key, {})))
    # By key (UTF-8 order), then by initiation.
    expected = sorted(created, key=lambda ku: (ku[0].encode(), created.index(ku)))
    full = await store.list_multipart_uploads(bucket)
    assert [(u.key, u.upload_id) for u in full.uploads] == expected
    assert all(u.initiated.tzinfo is not None for u in full.uploads)

    walked: list[tuple[str, str]] = []
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = await store.list_multipart_uploads(
            bucket, max_uploads=2, key_marker=key_marker, upload_id_marker=id_marker
        )
        assert len(page.uploads) <= 2
        walked += [(u.key, u.upload_id) for u in page.uploads]
        if not page.is_truncated:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
        assert (key_marker, id_marker) == walked[-1]
    assert walked == expected

    page = await store.list_multipart_uploads(bucket, delimiter="/")
    assert ([u.key for u in page.uploads], page.common_prefixes) == (["a", "a", "c"], ["b/"])
    page = await store.list_multipart_uploads(bucket, delimiter="/", max_uploads=2, key_marker="a")
    assert (page.common_prefixes, [u.key for u in page.uploads], page.is_truncated) == (
        ["b/"],
        ["c"],
        False,
    )
    page = await store.list_multipart_uploads(bucket, delimiter="/", max_uploads=1, key_marker="a")
    assert (page.common_prefixes, page.next_key_marker, page.next_upload_id_marker) == (
        ["b/"],
        "b/",
        None,
    )
    page = await store.list_multipart_uploads(bucket, prefix="b/")
    assert [u.key for u in page.uploads] == ["b/1", "b/1", "b/2"]
    # A key marker without an upload-id marker skips every upload of that key.
    page = await store.list_multipart_uploads(bucket, key_marker="b/1")
    assert [u.key for u in page.uploads] == ["b/2", "c"]
    page = await store.list_multipart_uploads(bucket, max_uploads=0)
    assert (page.uploads, page.is_truncated) == ([], False)


# ---- lifecycle and durability -----------------------------------------------------


async def test_persistence_across_restart(root: Path) -> None:
    first = LocalUpstream(root)
    await first.start()
    await first.start()  # idempotent
    await first.create_bucket("bkt")
    await first.put_object("bkt", "dir/obj", make_body(b"durable"), META)
    upload_id = await first.create_multipart_upload("bkt", "mp", {})
    parts, content = await upload_parts(first, "bkt", "mp", upload_id, [5 * MiB, 3])
    await first.close()
    await first.close()  # idempotent
    with pytest.raises(errors.ServiceUnavailable):
        await first.head_bucket("bkt")

    with sqlite3.connect(root / "index.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    second = LocalUpstream(root)
    await second.start()
    try:
        assert [b.name for b in await second.list_buckets()] == ["bkt"]
        assert await get_bytes(second, "bkt", "dir/obj") == b"durable"
        assert dict((await second.head_object("bkt", "dir/obj")).metadata) == META
        assert [u.upload_id for u in (await second.list_multipart_uploads("bkt")).uploads] == [
            upload_id
        ]
        await second.complete_multipart_upload("bkt", "mp", upload_id, parts)
        assert await get_bytes(second, "bkt", "mp") == content
    finally:
        await second.close()


async def test_start_sweeps_leftovers(root: Path) -> None:
    first = LocalUpstream(root)
    await first.start()
    await first.create_bucket("bkt")
    await put(first, "bkt", "k", b"keep me")
    upload_id = await first.create_multipart_upload("bkt", "mp", {})
    await first.upload_part("bkt", "mp", upload_id, 1, make_body(b"part"))
    await first.close()
    # What a crash can leave: a half-received body, a renamed but never committed
    # blob, and an upload whose completion was interrupted.
    (root / "tmp" / "0123.tmp").write_bytes(b"partial")
    orphan = root / "blobs" / "ab" / ("ab" + "0" * 30)
    orphan.write_bytes(b"orphan")
    with sqlite3.connect(root / "index.sqlite3") as db:
        db.execute("UPDATE uploads SET completing = 1")

    second = LocalUpstream(root)
    await second.start()
    try:
        assert files(root / "tmp") == []
        assert not orphan.exists()
        assert len(files(root / "blobs")) == 2
        assert await get_bytes(second, "bkt", "k") == b"keep me"
        await second.upload_part("bkt", "mp", upload_id, 2, make_body(b"again"))
    finally:
        await second.close()


async def test_second_process_does_not_sweep_live_files(root: Path) -> None:
    first = LocalUpstream(root)
    await first.start()
    live = root / "tmp" / "live.tmp"
    live.write_bytes(b"being received")
    stale = root / "tmp" / "stale.tmp"
    stale.write_bytes(b"left by a crash long ago")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    second = LocalUpstream(root)  # like another uvicorn worker on the same store
    await second.start()
    try:
        assert live.exists()
        assert not stale.exists()
        await second.create_bucket("shared")
        await first.head_bucket("shared")
    finally:
        await second.close()
        await first.close()


async def test_probe(root: Path) -> None:
    upstream = LocalUpstream(root)
    with pytest.raises(errors.ServiceUnavailable):
        await upstream.probe()
    await upstream.start()
    try:
        await upstream.probe()
        (root / "tmp").rmdir()
        with pytest.raises(errors.ServiceUnavailable):
            await upstream.probe()
    finally:
        await upstream.close()


async def test_open_stream_keeps_old_version_and_closes_its_file(
    store: LocalUpstream, bucket: str, root: Path
) -> None:
    old = os.urandom(3 * MiB)
    await put(store, bucket, "k", old)
    stream = await store.get_object(bucket, "k")
    await put(store, bucket, "k", b"new")
    assert len(files(root / "blobs")) == 1  # the old name is gone already
    assert await read_all(stream) == old  # POSIX: the open file lives on

    def open_blobs() -> int:
        fd_dir = Path("/proc/self/fd")
        targets = [os.path.realpath(fd_dir / fd) for fd in os.listdir(fd_dir)]
        return sum(str(root / "blobs") in t for t in targets)

    unread = await store.get_object(bucket, "k")
    assert open_blobs() == 1
    await unread.aclose()
    assert open_blobs() == 0
    dropped = await store.get_object(bucket, "k")
    assert open_blobs() == 1
    del dropped  # neither read nor closed: the descriptor goes with the stream
    gc.collect()
    assert open_blobs() == 0


# ---- concurrency and memory ----------------------------------------------------------


async def test_concurrent_puts_and_gets_never_tear(
    store: LocalUpstream, bucket: str, root: Path
) -> None:
    versions = {bytes([c]) * (2 * MiB + 123) for c in b"abcd"}
    etags = {quoted_md5(v) for v in versions}
    await put(store, bucket, "hot", next(iter(versions)))
    stop = asyncio.Event()

    async def writer(data: bytes) -> None:
        for _ in range(8):
            await store.put_object(bucket, "hot", make_body(data, chunk=100_000), {})

    async def reader() -> int:
        reads = 0
        while not stop.is_set():
            stream = await store.get_object(bucket, "hot")
            data = await read_all(stream)
            assert data in versions, "torn read"
            assert stream.head.etag == quoted_md5(data)
            reads += 1
        return reads

    readers = [asyncio.create_task(reader()) for _ in range(4)]
    await asyncio.gather(*(writer(v) for v in versions))
    stop.set()
    assert sum(await asyncio.gather(*readers)) > 0
    assert await get_bytes(store, bucket, "hot") in versions
    assert (await store.head_object(bucket, "hot")).etag in etags
    assert len(files(root / "blobs")) == 1
    assert files(root / "tmp") == []


async def test_large_object_streams_in_bounded_memory(store: LocalUpstream, bucket: str) -> None:
    size = 200 * MiB
    piece = os.urandom(MiB)
    expected = hashlib.md5(usedforsecurity=False)
    for _ in range(size // MiB):
        expected.update(piece)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(size // MiB):
            yield piece

    tracemalloc.start()
    try:
        result = await store.put_object(bucket, "huge", Body(chunks(), size), {})
        stream = await store.get_object(bucket, "huge")
        got, total = hashlib.md5(usedforsecurity=False), 0
        async for chunk in stream.body:
            got.update(chunk)
            total += len(chunk)
        await stream.aclose()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (total, got.hexdigest()) == (size, expected.hexdigest())
    assert result.etag == f'"{expected.hexdigest()}"'
    assert peak < 16 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
