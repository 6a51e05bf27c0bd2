"""The store's XML for object versions: versioning state, version listings,
DeleteObjects by version (the values are in `s3gate.s3.model`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from s3gate.s3.model import VERSIONING_STATUSES, DeleteOutcome, VersionInfo, VersionsPage
from s3gate.s3.xmltree import children as _children
from s3gate.s3.xmltree import first_text as _text
from s3gate.s3.xmltree import local as _local
from s3gate.upstream.s3.xml import _bool, _decoder, _int, _time, parse, quoted_etag
from s3gate.xmltext import escape as _esc

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def parse_versioning(body: bytes) -> str | None:
    status = _text(parse(body), "Status")
    return status if status in VERSIONING_STATUSES else None


def build_versioning(status: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<VersioningConfiguration xmlns="{_NS}"><Status>{_esc(status)}</Status>'
        "</VersioningConfiguration>"
    ).encode()


def parse_list_versions(body: bytes) -> VersionsPage:
    root = parse(body)
    dec = _decoder(root)
    versions = []
    for el in root:
        kind = _local(el.tag)
        if kind not in ("Version", "DeleteMarker"):
            continue
        marker = kind == "DeleteMarker"
        versions.append(
            VersionInfo(
                key=dec(_text(el, "Key")),
                version_id=_text(el, "VersionId") or "null",
                is_latest=_bool(_text(el, "IsLatest", "false")),
                last_modified=_time(_text(el, "LastModified")),
                delete_marker=marker,
                size=0 if marker else _int(_text(el, "Size", "0")),
                etag="" if marker else quoted_etag(_text(el, "ETag")),
                storage_class=_text(el, "StorageClass") or "STANDARD",
            )
        )
    prefixes = [dec(_text(p, "Prefix")) for p in _children(root, "CommonPrefixes")]
    truncated = _bool(_text(root, "IsTruncated", "false"))
    next_key = _text(root, "NextKeyMarker") or None
    next_version = _text(root, "NextVersionIdMarker") or None
    return VersionsPage(
        versions,
        prefixes,
        truncated,
        dec(next_key) if truncated and next_key is not None else None,
        next_version if truncated else None,
    )


def build_delete_versions(items: Iterable[tuple[str, str | None]]) -> bytes:
    objects = "".join(
        f"<Object><Key>{_esc(k)}</Key>"
        + (f"<VersionId>{_esc(v)}</VersionId>" if v is not None else "")
        + "</Object>"
        for k, v in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Delete xmlns="{_NS}"><Quiet>false</Quiet>{objects}</Delete>'
    ).encode()


def parse_delete_versions(body: bytes, items: list[tuple[str, str | None]]) -> list[DeleteOutcome]:
    """Outcomes in the order of `items`; one the store did not mention failed."""
    root = parse(body)
    found: dict[tuple[str, str | None], DeleteOutcome] = {}
    for d in _children(root, "Deleted"):
        key, vid = _text(d, "Key"), _text(d, "VersionId") or None
        marker_vid = _text(d, "DeleteMarkerVersionId") or None
        found[(key, vid)] = DeleteOutcome(
            key,
            version_id=vid,
            delete_marker=_bool(_text(d, "DeleteMarker", "false")),
            delete_marker_version_id=marker_vid,
        )
        if vid is not None:  # also findable by key alone (a plain delete reported with an id)
            found.setdefault((key, None), found[(key, vid)])
    for e in _children(root, "Error"):
        key, vid = _text(e, "Key"), _text(e, "VersionId") or None
        found[(key, vid)] = DeleteOutcome(
            key, _text(e, "Code") or "InternalError", _text(e, "Message"), version_id=vid
        )
    out = []
    for key, vid in items:
        got = found.get((key, vid))
        if got is None and (key, None) in found:
            # Reported by key alone (moto's Error for a locked version
            # carries no VersionId): the answer is about the version asked.
            got = replace(found[(key, None)], version_id=vid)
        if got is None:
            got = DeleteOutcome(
                key, "InternalError", "The upstream store did not report on this key", vid
            )
        out.append(got)
    return out
