"""Bucket versioning and version listings.

ListObjectVersions is filtered exactly like the other listings
(handlers.visibility): every key and common prefix is decided on the
request's bundle, hidden ones are dropped, a page is truncated only when a
visible entry follows and resumes after its last *visible* entry, the
gateway's internal prefixes are skipped in one step, and a position past a
run of hidden keys is sealed. Visibility is per key, so a key's versions and
delete markers are all shown or all hidden. A masked reader sees each
version's own view size and ETag (`masked_listing.versions_as_seen`).
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3gate import errors
from s3gate.handlers import listencoding, masked_listing, visibility
from s3gate.handlers.buckets import list_params
from s3gate.handlers.call import Call, empty_response, xml_response
from s3gate.s3 import listxml, xml
from s3gate.s3.model import VersionInfo
from s3gate.s3.versionid import check_version_id

UPSTREAM_MAX_KEYS = 1000

Entry = VersionInfo | str  # a version / delete marker, or a common prefix


async def get_bucket_versioning(call: Call) -> Response:
    return xml_response(xml.versioning(await call.upstream.get_bucket_versioning(call.bucket)))


async def put_bucket_versioning(call: Call) -> Response:
    if "x-amz-mfa" in call.headers:
        raise errors.NotImplementedError_("s3gate does not implement MFA delete")
    status = xml.parse_versioning(await call.read_xml())
    await call.upstream.put_bucket_versioning(call.bucket, status)
    return empty_response()


def _name(entry: Entry) -> str:
    return entry if isinstance(entry, str) else entry.key


def _ordered(versions: list[VersionInfo], prefixes: list[str]) -> list[Entry]:
    """Keys in UTF-8 byte order, each key's entries newest first. A store
    that lists a key's delete markers after its versions (moto) is put in
    S3's order; ties keep the store's order (the sort is stable)."""
    entries: list[Entry] = [*versions, *prefixes]
    entries.sort(key=_position)
    return entries


def _position(entry: Entry) -> tuple[bytes, float]:
    if isinstance(entry, str):
        return entry.encode(), 0.0
    return entry.key.encode(), -entry.last_modified.timestamp()


def _visible(call: Call, entries: list[Entry]) -> tuple[list[Entry], set[str]]:
    keys = list(dict.fromkeys(e.key for e in entries if not isinstance(e, str)))
    prefixes = [e for e in entries if isinstance(e, str)]
    show_keys, show_prefixes = visibility.decide(call, keys, prefixes)
    shown = {k for k, ok in zip(keys, show_keys, strict=True) if ok}
    shown |= {p for p, ok in zip(prefixes, show_prefixes, strict=True) if ok}
    return [e for e in entries if _name(e) in shown], shown


async def _listing(
    call: Call, params: listxml.ListParams, key_marker: str | None, version_marker: str | None
) -> listxml.VersionsListing:
    want = params.max_keys
    if want == 0:
        return listxml.VersionsListing([], [], False)
    limit = call.settings.server.list_upstream_pages
    shown: list[Entry] = []
    position: tuple[str | None, str | None] = (key_marker, version_marker)
    calls, hid, last_visible = 0, False, False
    while True:
        need = want + 1 - len(shown)
        page = await call.upstream.list_object_versions(
            call.bucket,
            prefix=params.prefix,
            delimiter=params.delimiter,
            max_keys=UPSTREAM_MAX_KEYS if hid else min(UPSTREAM_MAX_KEYS, need),
            key_marker=position[0],
            version_id_marker=position[1],
        )
        calls += 1
        entries = _ordered(page.versions, page.common_prefixes)
        visible, names = _visible(call, entries)
        hid = hid or len(visible) < len(entries)
        shown += visible
        if not page.is_truncated or page.next_key_marker is None:
            return _result(shown, want, len(shown) > want)
        last_visible = page.next_key_marker in names
        position = (page.next_key_marker, page.next_version_id_marker)
        past = visibility.past_internal(call, params.prefix, page.next_key_marker)
        if past is not None:
            position = (past, None)  # past the whole internal prefix
            last_visible = False
        if len(shown) > want:
            return _result(shown, want, True)
        if calls >= limit:
            break
    # The bound was hit in a run of hidden keys: resume where reading stopped.
    # Visibility is per key, so resuming after every version of a hidden key
    # skips nothing the caller may see.
    if last_visible:
        return _page(shown, True, position[0], position[1])
    assert position[0] is not None
    return _page(shown, True, call.list_tokens.seal(call.bucket, position[0]), None)


def _result(shown: list[Entry], want: int, truncated: bool) -> listxml.VersionsListing:
    if not truncated:
        return _page(shown, False, None, None)
    last = shown[want - 1]
    if isinstance(last, str):
        return _page(shown[:want], True, last, None)
    return _page(shown[:want], True, last.key, last.version_id)


def _page(
    shown: list[Entry], truncated: bool, next_key: str | None, next_version: str | None
) -> listxml.VersionsListing:
    return listxml.VersionsListing(
        versions=[e for e in shown if not isinstance(e, str)],
        common_prefixes=[e for e in shown if isinstance(e, str)],
        is_truncated=truncated,
        next_key_marker=next_key,
        next_version_id_marker=next_version,
    )


async def list_object_versions(call: Call) -> Response:
    params = list_params(call)
    key_marker = call.query.get("key-marker", "")
    version_marker = call.query.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker."
        )
    if version_marker:
        check_version_id(version_marker)
    after = call.list_tokens.open_marker(call.bucket, key_marker) if key_marker else None
    # A sealed position is a hidden key: resume after every version of it.
    resume_version = version_marker if after == key_marker else ""
    page = await _listing(call, params, after or None, resume_version or None)
    shown = await masked_listing.versions_as_seen(call, page.versions)
    names = [params.prefix, params.delimiter, key_marker, page.next_key_marker]
    names += [v.key for v in shown] + page.common_prefixes
    encoding = listencoding.needed(params.encoding_type, names)
    if encoding != params.encoding_type:
        params = replace(params, encoding_type=encoding)
    return xml_response(
        listxml.list_versions(params, replace(page, versions=shown), key_marker, version_marker)
    )
