"""ListObjectVersions paging (handlers.versions) over a store with S3's
marker semantics: page by page, a caller gets exactly the whole listing it
may see — every visible version and delete marker once, in order, none of a
hidden key, none under the gateway's internal prefix — and no resume marker
names a hidden key. (moto answers `key-marker` alone differently from S3:
docs/s3-compatibility.md, "Object versions"; the e2e tests run there.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from defusedxml import ElementTree

from s3gate.handlers import versions
from s3gate.handlers.call import Call
from s3gate.policy.loader import load_bundle
from s3gate.policy.settings import PolicySettings
from s3gate.s3.listtokens import ListTokens
from s3gate.s3.model import VersionInfo, VersionsPage
from s3gate.s3.operations import Operation
from tests.unit.policy.helpers import ctx, static, write_bundle

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
POLICY = """
@id("all")
permit (principal, action, resource);

@id("hidden")
forbid (principal, action, resource) when { resource.key like "*hidden*" };
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOKENS = ListTokens.ephemeral()  # one replica's key: its sealed markers open again


@dataclass
class S3Versions:
    """A store's version listing as S3 pages it: keys in byte order, each
    key's entries newest first; `key-marker` alone resumes after every
    version of that key, with `version-id-marker` after that version."""

    entries: list[VersionInfo]
    calls: int = 0

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
    ) -> VersionsPage:
        assert delimiter is None
        self.calls += 1
        items = [e for e in self.entries if e.key.startswith(prefix)]
        if key_marker is not None and version_id_marker:
            at = [(e.key, e.version_id) for e in items].index((key_marker, version_id_marker))
            items = items[at + 1 :]
        elif key_marker is not None:
            items = [e for e in items if e.key.encode() > key_marker.encode()]
        page, more = items[:max_keys], len(items) > max_keys
        last = page[-1] if more else None
        return VersionsPage(
            page,
            [],
            more,
            last.key if last else None,
            last.version_id if last else None,
        )


def _layout(keys: list[tuple[str, int, bool]]) -> list[VersionInfo]:
    """(key, versions, ends with a delete marker) → entries in S3's order."""
    out: list[VersionInfo] = []
    for key, count, marker in sorted(keys, key=lambda k: k[0].encode()):
        mine = [
            VersionInfo(key, f"{key}#{n}", False, T0 + timedelta(seconds=n), size=n, etag='"e"')
            for n in range(count)
        ]
        if marker:
            mine.append(VersionInfo(key, f"{key}#dm", False, T0 + timedelta(hours=1), True))
        mine.reverse()  # newest first
        out += [VersionInfo(**{**v.__dict__, "is_latest": i == 0}) for i, v in enumerate(mine)]
    return out


LAYOUTS = {
    "hidden between": [("a", 2, False), ("b-hidden", 2, False), ("c", 1, True), ("e", 3, False)],
    "hidden run": [("a", 1, False)]
    + [(f"h{i:02d}-hidden", 2, i % 3 == 0) for i in range(12)]
    + [("z", 2, True)],
    "internal prefix first": [(f".s3gate/views/f/{i}/x", 1, False) for i in range(9)]
    + [("a", 2, False), ("b", 1, True)],
    "everything hidden": [("hidden-1", 2, True), ("hidden-2", 1, False)],
    "deleted keys": [("a", 0, True), ("b", 2, True), ("c-hidden", 0, True), ("d", 1, False)],
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("bundle")
    return load_bundle(PolicySettings(dir=write_bundle(path, POLICY)))


def _call(store: S3Versions, bundle: Any, query: dict[str, str], pages: int) -> Call:
    return Call(
        request_id="r",
        op=Operation("ListObjectVersions", "b", None),
        query=query,
        headers={},
        principal=static("reader"),
        body=None,  # type: ignore[arg-type]  # a listing reads no body
        upstream=store,  # type: ignore[arg-type]
        settings=SimpleNamespace(server=SimpleNamespace(list_upstream_pages=pages)),  # type: ignore[arg-type]
        bundle=bundle,
        policy_context=ctx("ListObjectVersions"),
        decision=None,
        list_tokens=TOKENS,
        masking=None,  # type: ignore[arg-type]  # no masked reads here
        tally=None,  # type: ignore[arg-type]
    )


def _page(body: bytes) -> tuple[list[tuple[str, str]], bool, str | None, str | None]:
    root = ElementTree.fromstring(body)
    entries = [
        (el.findtext(f"{NS}Key") or "", el.findtext(f"{NS}VersionId") or "")
        for el in root
        if el.tag in (f"{NS}Version", f"{NS}DeleteMarker")
    ]
    truncated = root.findtext(f"{NS}IsTruncated") == "true"
    return (
        entries,
        truncated,
        root.findtext(f"{NS}NextKeyMarker"),
        root.findtext(f"{NS}NextVersionIdMarker"),
    )


def _list(store: S3Versions, bundle: Any, query: dict[str, str], pages: int) -> bytes:
    response = asyncio.run(versions.list_object_versions(_call(store, bundle, query, pages)))
    return bytes(response.body)


@pytest.mark.parametrize("pages", [1, 2, 10])
@pytest.mark.parametrize("max_keys", [1, 2, 3, 1000])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_pages_together_are_the_whole_visible_listing(
    bundle: Any, layout: str, max_keys: int, pages: int
) -> None:
    entries = _layout(LAYOUTS[layout])
    store = S3Versions(entries)
    expected = [
        (e.key, e.version_id)
        for e in entries
        if "hidden" not in e.key and not e.key.startswith(".s3gate/")
    ]
    seen: list[tuple[str, str]] = []
    query: dict[str, str] = {"versions": "", "max-keys": str(max_keys)}
    for _ in range(200):
        got, truncated, next_key, next_version = _page(_list(store, bundle, query, pages))
        assert len(got) <= max_keys
        seen += got
        if not truncated:
            break
        assert next_key is not None and "hidden" not in next_key
        assert not next_key.startswith(".s3gate/")
        query = {"versions": "", "max-keys": str(max_keys), "key-marker": next_key}
        if next_version:
            query["version-id-marker"] = next_version
    else:
        pytest.fail("the listing never ended")
    assert seen == expected
