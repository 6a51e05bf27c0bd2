"""The XML an S3 store answers with, and the XML bodies we send it.

Parsing and escaping are the gateway's one way (`s3/xmltree.py`,
`xmltext.py`): defusedxml without DTDs, namespaces ignored. The caller bounds
the size of what it hands us. Keys in listings requested with `encoding-type=url` are
decoded here, but only when the response says `<EncodingType>url` — a store
that ignores the parameter sends raw keys, and decoding those would corrupt
keys containing `%` or `+`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element

from s3gate import errors
from s3gate.s3 import xmltree
from s3gate.s3.model import (
    BucketInfo,
    CopyResult,
    DeleteOutcome,
    ListPage,
    ObjectInfo,
    PartInfo,
    PartsPage,
    PutResult,
    UploadInfo,
    UploadsPage,
)
from s3gate.s3.xmltree import children as _children
from s3gate.s3.xmltree import first_text as _text
from s3gate.s3.xmltree import local as _local
from s3gate.xmltext import escape as _esc

# Characters XML 1.0 can carry at all; a key with anything else cannot be named
# in a request body (DeleteObjects) and must be handled another way.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_MALFORMED = "The upstream store sent malformed XML"


def xml_safe(text: str) -> bool:
    return _NOT_XML.search(text) is None


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise errors.InternalError("The upstream store sent a malformed date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise errors.InternalError("The upstream store sent a malformed number") from exc


def _bool(value: str) -> bool:
    return value.strip().lower() == "true"


def quoted_etag(etag: str) -> str:
    etag = etag.strip()
    return etag if etag.startswith('"') or etag.startswith('W/"') else f'"{etag}"'


# A 200 answer that carries <Error> has no status of its own; give the error
# the status its code normally has (S3 uses this for InternalError, SlowDown…).
_USUAL_STATUSES = (500, 503, 400, 403, 404, 409)


def error_for_code(code: str, message: str | None) -> errors.S3Error:
    for status in _USUAL_STATUSES:
        err = errors.from_code(code, status, message)
        if not isinstance(err, errors.UpstreamError):
            return err
    return errors.UpstreamError(code, 500, message)


def parse(body: bytes) -> Element:
    """Parse a success body; an <Error> document raises it (S3 may answer
    CompleteMultipartUpload and CopyObject with 200 and an error body)."""
    # lstrip: S3 may send whitespace while it works on a long request.
    root = xmltree.parse(body.lstrip(), errors.InternalError, _MALFORMED)
    if _local(root.tag) == "Error":
        raise error_for_code(_text(root, "Code") or "InternalError", _text(root, "Message") or None)
    return root


def parse_error(body: bytes) -> tuple[str, str] | None:
    """(code, message) of an S3 error document, or None if it is not one."""
    try:
        root = xmltree.parse(body.lstrip(), errors.InternalError)
    except errors.InternalError:
        return None
    if _local(root.tag) != "Error" or not _text(root, "Code"):
        return None
    return _text(root, "Code"), _text(root, "Message")


def _decoder(root: Element) -> Callable[[str], str]:
    if _text(root, "EncodingType").lower() == "url":
        return unquote_plus
    return _same


def _same(text: str) -> str:
    return text


def parse_list_objects_v2(body: bytes, skip_prefix: str | None = None) -> ListPage:
    """ListBucketResult (v2) -> ListPage. `skip_prefix` is a common prefix the
    caller asked to resume after; a store may still echo it (see s3.py)."""
    root = parse(body)
    dec = _decoder(root)

    contents = [
        ObjectInfo(
            key=dec(_text(c, "Key")),
            size=_int(_text(c, "Size", "0")),
            etag=quoted_etag(_text(c, "ETag")),
            last_modified=_time(_text(c, "LastModified")),
            storage_class=_text(c, "StorageClass") or "STANDARD",
        )
        for c in _children(root, "Contents")
    ]
    prefixes = [dec(_text(p, "Prefix")) for p in _children(root, "CommonPrefixes")]
    truncated = _bool(_text(root, "IsTruncated", "false"))
    # Contents and CommonPrefixes are each sorted; the last entry in listing
    # order is the larger of their last elements (UTF-8 order = code point order).
    lasts = [x[-1] for x in ([c.key for c in contents[-1:]], prefixes) if x]
    last = max(lasts) if lasts else None
    if skip_prefix is not None:
        prefixes = [p for p in prefixes if p != skip_prefix]
    return ListPage(contents, prefixes, truncated, last if truncated else None)


def parse_list_parts(body: bytes) -> PartsPage:
    root = parse(body)
    parts = [
        PartInfo(
            part_number=_int(_text(p, "PartNumber")),
            etag=quoted_etag(_text(p, "ETag")),
            size=_int(_text(p, "Size", "0")),
            last_modified=_time(_text(p, "LastModified")),
        )
        for p in _children(root, "Part")
    ]
    truncated = _bool(_text(root, "IsTruncated", "false"))
    marker = _text(root, "NextPartNumberMarker")
    return PartsPage(parts, truncated, _int(marker) if truncated and marker else None)


def parse_list_uploads(body: bytes) -> UploadsPage:
    root = parse(body)
    dec = _decoder(root)

    uploads = [
        UploadInfo(
            key=dec(_text(u, "Key")),
            upload_id=_text(u, "UploadId"),
            initiated=_time(_text(u, "Initiated")),
        )
        for u in _children(root, "Upload")
    ]
    prefixes = [dec(_text(p, "Prefix")) for p in _children(root, "CommonPrefixes")]
    truncated = _bool(_text(root, "IsTruncated", "false"))
    key_marker = _text(root, "NextKeyMarker")
    id_marker = _text(root, "NextUploadIdMarker")
    return UploadsPage(
        uploads,
        prefixes,
        truncated,
        dec(key_marker) if truncated and key_marker else None,
        id_marker if truncated and id_marker else None,
    )


def parse_list_buckets(body: bytes) -> list[BucketInfo]:
    root = parse(body)
    return [
        BucketInfo(_text(b, "Name"), _time(_text(b, "CreationDate")))
        for holder in _children(root, "Buckets")
        for b in _children(holder, "Bucket")
    ]


def parse_location(body: bytes) -> str:
    # Empty means us-east-1; "EU" is the legacy name of eu-west-1.
    location = (parse(body).text or "").strip()
    return {"": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def parse_upload_id(body: bytes) -> str:
    upload_id = _text(parse(body), "UploadId")
    if not upload_id:
        raise errors.InternalError("The upstream store returned no UploadId")
    return upload_id


def parse_complete(body: bytes, version_id: str | None) -> PutResult:
    return PutResult(quoted_etag(_text(parse(body), "ETag")), version_id)


def parse_copy(body: bytes, version_id: str | None) -> CopyResult:
    root = parse(body)
    return CopyResult(
        quoted_etag(_text(root, "ETag")), _time(_text(root, "LastModified")), version_id
    )


def parse_delete_result(body: bytes, keys: list[str]) -> list[DeleteOutcome]:
    """Outcomes in the order of `keys` (S3 does not promise an order). A key the
    store did not mention is reported as failed rather than assumed deleted."""
    root = parse(body)
    found: dict[str, DeleteOutcome] = {}
    for d in _children(root, "Deleted"):
        key = _text(d, "Key")
        found[key] = DeleteOutcome(key)
    for e in _children(root, "Error"):
        key = _text(e, "Key")
        found[key] = DeleteOutcome(key, _text(e, "Code") or "InternalError", _text(e, "Message"))
    missing = "The upstream store did not report on this key"
    outcomes = []
    for key in keys:
        # A store that echoes a CR raw has it read back as LF by the parser.
        got = found.get(key) or found.get(key.replace("\r\n", "\n").replace("\r", "\n"))
        if got is None:
            outcomes.append(DeleteOutcome(key, "InternalError", missing))
        else:
            outcomes.append(DeleteOutcome(key, got.error_code, got.error_message))
    return outcomes


def build_delete(keys: Iterable[str]) -> bytes:
    objects = "".join(f"<Object><Key>{_esc(k)}</Key></Object>" for k in keys)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Quiet>false</Quiet>{objects}</Delete>"
    ).encode()


def build_complete(parts: Iterable[tuple[int, str]]) -> bytes:
    body = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{_esc(etag)}</ETag></Part>" for n, etag in parts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{body}</CompleteMultipartUpload>"
    ).encode()


def build_create_bucket(region: str) -> bytes | None:
    """us-east-1 takes no configuration (AWS rejects one naming it)."""
    if region == "us-east-1":
        return None
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<LocationConstraint>{_esc(region)}</LocationConstraint>"
        "</CreateBucketConfiguration>"
    ).encode()
