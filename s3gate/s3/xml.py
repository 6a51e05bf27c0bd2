"""S3 XML documents: render responses, parse (untrusted) request bodies.

Request bodies are parsed with defusedxml (no DTDs, no entity expansion) after
the caller has bounded their size; anything unexpected is `MalformedXML`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree.ElementTree import Element

from s3gate import errors
from s3gate.s3 import xmltree
from s3gate.s3.headers import iso_date
from s3gate.s3.model import (
    BucketInfo,
    DeleteOutcome,
    ListPage,
    PartsPage,
    UploadsPage,
    VersionInfo,
)
from s3gate.s3.xmltree import children as _children
from s3gate.s3.xmltree import local as _local
from s3gate.s3.xmltree import only_text as _text
from s3gate.xmltext import escape as _esc

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER_ID = "s3gate"
MAX_DELETE_KEYS = 1000


def _el(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{_esc(str(value))}</{name}>"


class _Encoder:
    """Applies encoding-type=url to keys and prefixes when the client asked."""

    def __init__(self, encoding_type: str | None) -> None:
        self.url = encoding_type == "url"

    def __call__(self, value: str) -> str:
        return quote(value, safe="/") if self.url else value


def _owner() -> str:
    return f"<Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>"


def list_buckets(buckets: Iterable[BucketInfo]) -> bytes:
    items = "".join(
        f"<Bucket>{_el('Name', b.name)}{_el('CreationDate', iso_date(b.created))}</Bucket>"
        for b in buckets
    )
    return (
        f'{HEAD}<ListAllMyBucketsResult xmlns="{NS}">{_owner()}'
        f"<Buckets>{items}</Buckets></ListAllMyBucketsResult>"
    ).encode()


def location(region: str) -> bytes:
    value = "" if region == "us-east-1" else _esc(region)
    return f'{HEAD}<LocationConstraint xmlns="{NS}">{value}</LocationConstraint>'.encode()


def _contents(page: ListPage, enc: _Encoder, owner: bool) -> str:
    parts = []
    for o in page.contents:
        parts.append(
            "<Contents>"
            + _el("Key", enc(o.key))
            + _el("LastModified", iso_date(o.last_modified))
            + _el("ETag", o.etag)
            + _el("Size", o.size)
            + (_owner() if owner else "")
            + _el("StorageClass", o.storage_class)
            + "</Contents>"
        )
    for p in page.common_prefixes:
        parts.append(f"<CommonPrefixes>{_el('Prefix', enc(p))}</CommonPrefixes>")
    return "".join(parts)


@dataclass(frozen=True)
class ListParams:
    bucket: str
    prefix: str
    delimiter: str | None
    max_keys: int
    encoding_type: str | None


def list_objects_v1(p: ListParams, page: ListPage, marker: str, next_marker: str | None) -> bytes:
    enc = _Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListBucketResult xmlns="{NS}">',
        _el("Name", p.bucket),
        _el("Prefix", enc(p.prefix)),
        _el("Marker", enc(marker)),
        _el("MaxKeys", p.max_keys),
    ]
    if p.delimiter:
        body.append(_el("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(_el("EncodingType", p.encoding_type))
    body.append(_el("IsTruncated", page.is_truncated))
    if page.is_truncated and next_marker is not None:
        body.append(_el("NextMarker", enc(next_marker)))
    body.append(_contents(page, enc, owner=True))
    body.append("</ListBucketResult>")
    return "".join(body).encode()


def list_objects_v2(
    p: ListParams,
    page: ListPage,
    *,
    continuation_token: str | None,
    next_token: str | None,
    start_after: str | None,
    fetch_owner: bool,
) -> bytes:
    enc = _Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListBucketResult xmlns="{NS}">',
        _el("Name", p.bucket),
        _el("Prefix", enc(p.prefix)),
        _el("MaxKeys", p.max_keys),
        _el("KeyCount", len(page.contents) + len(page.common_prefixes)),
    ]
    if p.delimiter:
        body.append(_el("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(_el("EncodingType", p.encoding_type))
    body.append(_el("IsTruncated", page.is_truncated))
    if continuation_token is not None:
        body.append(_el("ContinuationToken", continuation_token))
    if next_token is not None:
        body.append(_el("NextContinuationToken", next_token))
    if start_after is not None:
        body.append(_el("StartAfter", enc(start_after)))
    body.append(_contents(page, enc, owner=fetch_owner))
    body.append("</ListBucketResult>")
    return "".join(body).encode()


@dataclass(frozen=True)
class VersionsListing:
    """A ListObjectVersions page as the caller may see it."""

    versions: list[VersionInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


def list_versions(
    p: ListParams, page: VersionsListing, key_marker: str, version_id_marker: str
) -> bytes:
    """ListVersionsResult: object versions and delete markers in listing
    order (keys in UTF-8 byte order, each key's newest first), then the
    common prefixes."""
    enc = _Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListVersionsResult xmlns="{NS}">',
        _el("Name", p.bucket),
        _el("Prefix", enc(p.prefix)),
        _el("KeyMarker", enc(key_marker)),
        _el("VersionIdMarker", version_id_marker),
        _el("MaxKeys", p.max_keys),
    ]
    if p.delimiter:
        body.append(_el("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(_el("EncodingType", p.encoding_type))
    body.append(_el("IsTruncated", page.is_truncated))
    if page.is_truncated and page.next_key_marker is not None:
        body.append(_el("NextKeyMarker", enc(page.next_key_marker)))
        if page.next_version_id_marker:
            body.append(_el("NextVersionIdMarker", page.next_version_id_marker))
    for v in page.versions:
        common = (
            _el("Key", enc(v.key))
            + _el("VersionId", v.version_id)
            + _el("IsLatest", v.is_latest)
            + _el("LastModified", iso_date(v.last_modified))
        )
        if v.delete_marker:
            body.append(f"<DeleteMarker>{common}{_owner()}</DeleteMarker>")
        else:
            body.append(
                f"<Version>{common}"
                + _el("ETag", v.etag)
                + _el("Size", v.size)
                + _owner()
                + _el("StorageClass", v.storage_class)
                + "</Version>"
            )
    for prefix in page.common_prefixes:
        body.append(f"<CommonPrefixes>{_el('Prefix', enc(prefix))}</CommonPrefixes>")
    body.append("</ListVersionsResult>")
    return "".join(body).encode()


def versioning(status: str | None) -> bytes:
    """GetBucketVersioning: empty for a bucket never made versioned; MFA
    delete is never on (the gateway refuses to turn it on)."""
    inner = _el("Status", status) if status else ""
    return f'{HEAD}<VersioningConfiguration xmlns="{NS}">{inner}</VersioningConfiguration>'.encode()


def parse_versioning(body: bytes) -> str:
    """PutBucketVersioning: the status asked for. MFA delete is refused."""
    root = _parse(body)
    if _local(root.tag) != "VersioningConfiguration":
        raise errors.MalformedXML()
    mfa = _text(root, "MfaDelete")
    if mfa and mfa != "Disabled":
        raise errors.NotImplementedError_("s3gate does not implement MFA delete")
    status = _text(root, "Status")
    if status not in ("Enabled", "Suspended"):
        raise errors.MalformedXML()
    return status


def initiate_multipart(bucket: str, key: str, upload_id: str) -> bytes:
    return (
        f'{HEAD}<InitiateMultipartUploadResult xmlns="{NS}">'
        f"{_el('Bucket', bucket)}{_el('Key', key)}{_el('UploadId', upload_id)}"
        "</InitiateMultipartUploadResult>"
    ).encode()


def complete_multipart(location_url: str, bucket: str, key: str, etag: str) -> bytes:
    return (
        f'{HEAD}<CompleteMultipartUploadResult xmlns="{NS}">'
        f"{_el('Location', location_url)}{_el('Bucket', bucket)}{_el('Key', key)}"
        f"{_el('ETag', etag)}</CompleteMultipartUploadResult>"
    ).encode()


def copy_result(etag: str, last_modified: str) -> bytes:
    return (
        f'{HEAD}<CopyObjectResult xmlns="{NS}">'
        f"{_el('LastModified', last_modified)}{_el('ETag', etag)}</CopyObjectResult>"
    ).encode()


def delete_result(outcomes: Iterable[DeleteOutcome], quiet: bool) -> bytes:
    parts = [f'{HEAD}<DeleteResult xmlns="{NS}">']
    for o in outcomes:
        version = _el("VersionId", o.version_id) if o.version_id else ""
        if o.error_code is None:
            if not quiet:
                marker = ""
                if o.delete_marker:
                    marker = _el("DeleteMarker", True)
                    if o.delete_marker_version_id:
                        marker += _el("DeleteMarkerVersionId", o.delete_marker_version_id)
                parts.append(f"<Deleted>{_el('Key', o.key)}{version}{marker}</Deleted>")
        else:
            parts.append(
                f"<Error>{_el('Key', o.key)}{version}{_el('Code', o.error_code)}"
                f"{_el('Message', o.error_message or o.error_code)}</Error>"
            )
    parts.append("</DeleteResult>")
    return "".join(parts).encode()


def list_parts(
    bucket: str, key: str, upload_id: str, page: PartsPage, max_parts: int, marker: int
) -> bytes:
    parts = [
        f'{HEAD}<ListPartsResult xmlns="{NS}">',
        _el("Bucket", bucket),
        _el("Key", key),
        _el("UploadId", upload_id),
        _owner().replace("Owner>", "Initiator>", 2),
        _owner(),
        _el("StorageClass", "STANDARD"),
        _el("PartNumberMarker", marker),
    ]
    if page.next_part_number_marker is not None:
        parts.append(_el("NextPartNumberMarker", page.next_part_number_marker))
    parts.append(_el("MaxParts", max_parts))
    parts.append(_el("IsTruncated", page.is_truncated))
    for p in page.parts:
        parts.append(
            f"<Part>{_el('PartNumber', p.part_number)}"
            f"{_el('LastModified', iso_date(p.last_modified))}"
            f"{_el('ETag', p.etag)}{_el('Size', p.size)}</Part>"
        )
    parts.append("</ListPartsResult>")
    return "".join(parts).encode()


def list_uploads(
    bucket: str,
    page: UploadsPage,
    *,
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    key_marker: str,
    upload_id_marker: str,
    encoding_type: str | None,
) -> bytes:
    enc = _Encoder(encoding_type)
    parts = [
        f'{HEAD}<ListMultipartUploadsResult xmlns="{NS}">',
        _el("Bucket", bucket),
        _el("KeyMarker", enc(key_marker)),
        _el("UploadIdMarker", upload_id_marker),
    ]
    if page.next_key_marker is not None:
        parts.append(_el("NextKeyMarker", enc(page.next_key_marker)))
    if page.next_upload_id_marker is not None:
        parts.append(_el("NextUploadIdMarker", page.next_upload_id_marker))
    parts.append(_el("Prefix", enc(prefix)))
    if delimiter:
        parts.append(_el("Delimiter", enc(delimiter)))
    if encoding_type:
        parts.append(_el("EncodingType", encoding_type))
    parts.append(_el("MaxUploads", max_uploads))
    parts.append(_el("IsTruncated", page.is_truncated))
    for u in page.uploads:
        parts.append(
            f"<Upload>{_el('Key', enc(u.key))}{_el('UploadId', u.upload_id)}"
            f"{_owner().replace('Owner>', 'Initiator>', 2)}{_owner()}"
            f"{_el('StorageClass', 'STANDARD')}{_el('Initiated', iso_date(u.initiated))}"
            "</Upload>"
        )
    for p in page.common_prefixes:
        parts.append(f"<CommonPrefixes>{_el('Prefix', enc(p))}</CommonPrefixes>")
    parts.append("</ListMultipartUploadsResult>")
    return "".join(parts).encode()


# --- parsing untrusted request bodies -------------------------------------------------


def _parse(body: bytes) -> Element:
    return xmltree.parse(body, errors.MalformedXML)


def parse_delete(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """DeleteObjects: ((key, version id or None) in request order, quiet)."""
    root = _parse(body)
    if _local(root.tag) != "Delete":
        raise errors.MalformedXML()
    keys = []
    for obj in _children(root, "Object"):
        key = _text(obj, "Key")
        if not key:
            raise errors.MalformedXML()
        version = _text(obj, "VersionId")
        keys.append((key, version or None))
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise errors.MalformedXML()
    quiet = (_text(root, "Quiet") or "false").strip().lower() == "true"
    return keys, quiet


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """CompleteMultipartUpload: [(part number, etag)] in request order."""
    root = _parse(body)
    if _local(root.tag) != "CompleteMultipartUpload":
        raise errors.MalformedXML()
    parts = []
    for part in _children(root, "Part"):
        number, etag = _text(part, "PartNumber"), _text(part, "ETag")
        if not number or not etag or not number.strip().isdigit():
            raise errors.MalformedXML()
        parts.append((int(number), etag.strip()))
    if not parts:
        raise errors.MalformedXML()
    return parts


def parse_create_bucket(body: bytes) -> str | None:
    """CreateBucketConfiguration: the LocationConstraint, if any."""
    if not body.strip():
        return None
    root = _parse(body)
    if _local(root.tag) != "CreateBucketConfiguration":
        raise errors.MalformedXML()
    return _text(root, "LocationConstraint") or None


# For the other parsers of request bodies (s3.acl).
parse_xml = _parse
local_name = _local
children = _children
text_of = _text
