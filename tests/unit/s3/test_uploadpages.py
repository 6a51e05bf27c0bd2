"""page_of: one ListMultipartUploads page cut from uploads in hand (the merge
of the store's and the staged masked uploads). Checked against a table of S3's
rules and, for arbitrary uploads and parameters, against the embedded store's
own SQL implementation of the same rules (an independent oracle)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3gate.s3.model import UploadInfo, UploadsPage
from s3gate.s3.uploadpages import page_of
from s3gate.upstream.local import LocalUpstream

T = datetime(2026, 1, 1, tzinfo=UTC)
UPLOADS = [
    UploadInfo("a", "u2", T),
    UploadInfo("a", "u1", T),
    UploadInfo("b/1", "u3", T),
    UploadInfo("b/2", "u4", T),
    UploadInfo("c", "u5", T),
    UploadInfo("é", "u6", T),
]


def shape(
    page: UploadsPage,
) -> tuple[list[tuple[str, str]], list[str], bool, str | None, str | None]:
    return (
        [(u.key, u.upload_id) for u in page.uploads],
        page.common_prefixes,
        page.is_truncated,
        page.next_key_marker,
        page.next_upload_id_marker,
    )


CASES = [
    # (id, prefix, delimiter, max, key marker, id marker, expected shape)
    (
        "all, by key then id",
        "",
        None,
        1000,
        None,
        None,
        (
            [("a", "u1"), ("a", "u2"), ("b/1", "u3"), ("b/2", "u4"), ("c", "u5"), ("é", "u6")],
            [],
            False,
            None,
            None,
        ),
    ),
    (
        "prefix",
        "b/",
        None,
        1000,
        None,
        None,
        ([("b/1", "u3"), ("b/2", "u4")], [], False, None, None),
    ),
    (
        "delimiter rolls up once",
        "",
        "/",
        1000,
        None,
        None,
        ([("a", "u1"), ("a", "u2"), ("c", "u5"), ("é", "u6")], ["b/"], False, None, None),
    ),
    (
        "truncated on an upload",
        "",
        None,
        2,
        None,
        None,
        ([("a", "u1"), ("a", "u2")], [], True, "a", "u2"),
    ),
    (
        "truncated on a prefix",
        "",
        "/",
        3,
        None,
        None,
        ([("a", "u1"), ("a", "u2")], ["b/"], True, "b/", None),
    ),
    (
        "key marker skips every upload of the key",
        "",
        None,
        1000,
        "a",
        None,
        ([("b/1", "u3"), ("b/2", "u4"), ("c", "u5"), ("é", "u6")], [], False, None, None),
    ),
    (
        "upload id marker: later uploads of the key first",
        "",
        None,
        2,
        "a",
        "u1",
        ([("a", "u2"), ("b/1", "u3")], [], True, "b/1", "u3"),
    ),
    (
        "a marker that is a listed prefix skips it",
        "",
        "/",
        1000,
        "b/",
        None,
        ([("c", "u5"), ("é", "u6")], [], False, None, None),
    ),
    (
        "a marker inside a listed prefix skips it",
        "",
        "/",
        1000,
        "b/1",
        "u3",
        ([("c", "u5"), ("é", "u6")], [], False, None, None),
    ),
    ("zero", "", None, 0, None, None, ([], [], False, None, None)),
    ("nothing under the prefix", "zz", None, 10, None, None, ([], [], False, None, None)),
]


@pytest.mark.parametrize(
    ("prefix", "delimiter", "max_uploads", "key_marker", "id_marker", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_page_rules(
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    key_marker: str | None,
    id_marker: str | None,
    expected: tuple[object, ...],
) -> None:
    page = page_of(
        UPLOADS,
        prefix=prefix,
        delimiter=delimiter,
        max_uploads=max_uploads,
        key_marker=key_marker,
        upload_id_marker=id_marker,
    )
    assert shape(page) == expected


def test_walking_the_markers_returns_every_upload_once() -> None:
    seen: list[tuple[str, str]] = []
    key_marker = id_marker = None
    for _ in range(10):
        page = page_of(
            UPLOADS,
            prefix="",
            delimiter=None,
            max_uploads=1,
            key_marker=key_marker,
            upload_id_marker=id_marker,
        )
        seen += [(u.key, u.upload_id) for u in page.uploads]
        if not page.is_truncated:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
    assert seen == sorted((u.key, u.upload_id) for u in UPLOADS)


KEYS = st.sampled_from(["a", "a/b", "a/c", "a/b/c", "b", "b/", "é", "ab", "a//"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(KEYS, min_size=0, max_size=8),
    prefix=st.sampled_from(["", "a", "a/", "b"]),
    delimiter=st.sampled_from([None, "/", "b"]),
    max_uploads=st.integers(min_value=0, max_value=4),
    marker=st.one_of(st.none(), KEYS),
    use_id=st.booleans(),
)
def test_same_pages_as_the_embedded_store(
    tmp_path: Path,
    keys: list[str],
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    marker: str | None,
    use_id: bool,
) -> None:
    async def run() -> None:
        store = LocalUpstream(
            tmp_path
            / f"s{abs(hash((tuple(keys), prefix, delimiter, max_uploads, marker, use_id)))}"
        )
        await store.start()
        try:
            await store.create_bucket("bkt")
            for key in keys:
                await store.create_multipart_upload("bkt", key, {})
            everything = (await store.list_multipart_uploads("bkt")).uploads
            id_marker = None
            if use_id and marker is not None:
                same = [u.upload_id for u in everything if u.key == marker]
                id_marker = same[0] if same else None
            args = dict(
                prefix=prefix,
                delimiter=delimiter,
                max_uploads=max_uploads,
                key_marker=marker,
                upload_id_marker=id_marker,
            )
            want = await store.list_multipart_uploads("bkt", **args)  # type: ignore[arg-type]
            got = page_of(everything, **args)  # type: ignore[arg-type]
            assert shape(got) == shape(want)
        finally:
            await store.close()

    asyncio.run(run())
