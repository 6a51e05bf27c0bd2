"""S3 XML listings the gateway renders: ListBuckets, ListObjects (v1, v2),
ListObjectVersions, ListParts and ListMultipartUploads.

Every key and prefix goes through the client's `encoding-type` (`Encoder`)
and `element`'s escaping; what a page holds (already filtered by policy and
the view) is the handler's, these only write it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from s3gate.s3.headers import iso_date
from s3gate.s3.model import BucketInfo, ListPage, PartsPage, UploadsPage, VersionInfo
from s3gate.s3.xmldoc import HEAD, NS, Encoder, element, owner


def list_buckets(
    buckets: Iterable[BucketInfo],
    *,
    region: str | None = None,
    token: str | None = None,
    prefix: str | None = None,
) -> bytes:
    """ListAllMyBucketsResult. `region`: each bucket's BucketRegion (S3 adds
    it when the request named a ListBuckets parameter); `token`: the
    ContinuationToken of the next page; `prefix`: echoed as Prefix."""
    where = element("BucketRegion", region) if region is not None else ""
    items = "".join(
        f"<Bucket>{element('Name', b.name)}{element('CreationDate', iso_date(b.created))}"
        f"{where}</Bucket>"
        for b in buckets
    )
    tail = (element("ContinuationToken", token) if token is not None else "") + (
        element("Prefix", prefix) if prefix else ""
    )
    return (
        f'{HEAD}<ListAllMyBucketsResult xmlns="{NS}">{owner()}'
        f"<Buckets>{items}</Buckets>{tail}</ListAllMyBucketsResult>"
    ).encode()


def _contents(page: ListPage, enc: Encoder, with_owner: bool) -> str:
    parts = []
    for o in page.contents:
        parts.append(
            "<Contents>"
            + element("Key", enc(o.key))
            + element("LastModified", iso_date(o.last_modified))
            + element("ETag", o.etag)
            + element("Size", o.size)
            + (owner() if with_owner else "")
            + element("StorageClass", o.storage_class)
            + "</Contents>"
        )
    for p in page.common_prefixes:
        parts.append(f"<CommonPrefixes>{element('Prefix', enc(p))}</CommonPrefixes>")
    return "".join(parts)


@dataclass(frozen=True)
class ListParams:
    bucket: str
    prefix: str
    delimiter: str | None
    max_keys: int
    encoding_type: str | None


def list_objects_v1(p: ListParams, page: ListPage, marker: str, next_marker: str | None) -> bytes:
    enc = Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListBucketResult xmlns="{NS}">',
        element("Name", p.bucket),
        element("Prefix", enc(p.prefix)),
        element("Marker", enc(marker)),
        element("MaxKeys", p.max_keys),
    ]
    if p.delimiter:
        body.append(element("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(element("EncodingType", p.encoding_type))
    body.append(element("IsTruncated", page.is_truncated))
    if page.is_truncated and next_marker is not None:
        body.append(element("NextMarker", enc(next_marker)))
    body.append(_contents(page, enc, with_owner=True))
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
    enc = Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListBucketResult xmlns="{NS}">',
        element("Name", p.bucket),
        element("Prefix", enc(p.prefix)),
        element("MaxKeys", p.max_keys),
        element("KeyCount", len(page.contents) + len(page.common_prefixes)),
    ]
    if p.delimiter:
        body.append(element("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(element("EncodingType", p.encoding_type))
    body.append(element("IsTruncated", page.is_truncated))
    if continuation_token is not None:
        body.append(element("ContinuationToken", continuation_token))
    if next_token is not None:
        body.append(element("NextContinuationToken", next_token))
    if start_after is not None:
        body.append(element("StartAfter", enc(start_after)))
    body.append(_contents(page, enc, with_owner=fetch_owner))
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
    enc = Encoder(p.encoding_type)
    body = [
        f'{HEAD}<ListVersionsResult xmlns="{NS}">',
        element("Name", p.bucket),
        element("Prefix", enc(p.prefix)),
        element("KeyMarker", enc(key_marker)),
        element("VersionIdMarker", version_id_marker),
        element("MaxKeys", p.max_keys),
    ]
    if p.delimiter:
        body.append(element("Delimiter", enc(p.delimiter)))
    if p.encoding_type:
        body.append(element("EncodingType", p.encoding_type))
    body.append(element("IsTruncated", page.is_truncated))
    if page.is_truncated and page.next_key_marker is not None:
        body.append(element("NextKeyMarker", enc(page.next_key_marker)))
        if page.next_version_id_marker:
            body.append(element("NextVersionIdMarker", page.next_version_id_marker))
    for v in page.versions:
        common = (
            element("Key", enc(v.key))
            + element("VersionId", v.version_id)
            + element("IsLatest", v.is_latest)
            + element("LastModified", iso_date(v.last_modified))
        )
        if v.delete_marker:
            body.append(f"<DeleteMarker>{common}{owner()}</DeleteMarker>")
        else:
            body.append(
                f"<Version>{common}"
                + element("ETag", v.etag)
                + element("Size", v.size)
                + owner()
                + element("StorageClass", v.storage_class)
                + "</Version>"
            )
    for prefix in page.common_prefixes:
        body.append(f"<CommonPrefixes>{element('Prefix', enc(prefix))}</CommonPrefixes>")
    body.append("</ListVersionsResult>")
    return "".join(body).encode()


def list_parts(
    bucket: str, key: str, upload_id: str, page: PartsPage, max_parts: int, marker: int
) -> bytes:
    parts = [
        f'{HEAD}<ListPartsResult xmlns="{NS}">',
        element("Bucket", bucket),
        element("Key", key),
        element("UploadId", upload_id),
        owner().replace("Owner>", "Initiator>", 2),
        owner(),
        element("StorageClass", "STANDARD"),
        element("PartNumberMarker", marker),
    ]
    if page.next_part_number_marker is not None:
        parts.append(element("NextPartNumberMarker", page.next_part_number_marker))
    parts.append(element("MaxParts", max_parts))
    parts.append(element("IsTruncated", page.is_truncated))
    for p in page.parts:
        parts.append(
            f"<Part>{element('PartNumber', p.part_number)}"
            f"{element('LastModified', iso_date(p.last_modified))}"
            f"{element('ETag', p.etag)}{element('Size', p.size)}</Part>"
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
    enc = Encoder(encoding_type)
    parts = [
        f'{HEAD}<ListMultipartUploadsResult xmlns="{NS}">',
        element("Bucket", bucket),
        element("KeyMarker", enc(key_marker)),
        element("UploadIdMarker", upload_id_marker),
    ]
    if page.next_key_marker is not None:
        parts.append(element("NextKeyMarker", enc(page.next_key_marker)))
    if page.next_upload_id_marker is not None:
        parts.append(element("NextUploadIdMarker", page.next_upload_id_marker))
    parts.append(element("Prefix", enc(prefix)))
    if delimiter:
        parts.append(element("Delimiter", enc(delimiter)))
    if encoding_type:
        parts.append(element("EncodingType", encoding_type))
    parts.append(element("MaxUploads", max_uploads))
    parts.append(element("IsTruncated", page.is_truncated))
    for u in page.uploads:
        parts.append(
            f"<Upload>{element('Key', enc(u.key))}{element('UploadId', u.upload_id)}"
            f"{owner().replace('Owner>', 'Initiator>', 2)}{owner()}"
            f"{element('StorageClass', 'STANDARD')}{element('Initiated', iso_date(u.initiated))}"
            "</Upload>"
        )
    for p in page.common_prefixes:
        parts.append(f"<CommonPrefixes>{element('Prefix', enc(p))}</CommonPrefixes>")
    parts.append("</ListMultipartUploadsResult>")
    return "".join(parts).encode()
