"""S3 XML documents other than the listings (`s3/listxml.py`): render the
answers (location, versioning, multipart, copy, DeleteObjects), parse
(untrusted) request bodies.

Request bodies are parsed with defusedxml (no DTDs, no entity expansion) after
the caller has bounded their size; anything unexpected is `MalformedXML`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from s3gate import errors
from s3gate.s3.model import DeleteOutcome
from s3gate.s3.xmldoc import HEAD, NS, children, element, local_name, parse_xml, text_of
from s3gate.xmltext import escape

MAX_DELETE_KEYS = 1000
MAX_PART_NUMBER = 10_000  # S3's part numbers run from 1 to 10000
_PART_NUMBER_RE = re.compile(r"[0-9]+")


def location(region: str) -> bytes:
    value = "" if region == "us-east-1" else escape(region)
    return f'{HEAD}<LocationConstraint xmlns="{NS}">{value}</LocationConstraint>'.encode()


def versioning(status: str | None) -> bytes:
    """GetBucketVersioning: empty for a bucket never made versioned; MFA
    delete is never on (the gateway refuses to turn it on)."""
    inner = element("Status", status) if status else ""
    return f'{HEAD}<VersioningConfiguration xmlns="{NS}">{inner}</VersioningConfiguration>'.encode()


def parse_versioning(body: bytes) -> str:
    """PutBucketVersioning: the status asked for. MFA delete is refused."""
    root = parse_xml(body)
    if local_name(root.tag) != "VersioningConfiguration":
        raise errors.MalformedXML()
    mfa = text_of(root, "MfaDelete")
    if mfa and mfa != "Disabled":
        raise errors.NotImplementedError_("s3gate does not implement MFA delete")
    status = text_of(root, "Status")
    if status not in ("Enabled", "Suspended"):
        raise errors.MalformedXML()
    return status


def initiate_multipart(bucket: str, key: str, upload_id: str) -> bytes:
    return (
        f'{HEAD}<InitiateMultipartUploadResult xmlns="{NS}">'
        f"{element('Bucket', bucket)}{element('Key', key)}{element('UploadId', upload_id)}"
        "</InitiateMultipartUploadResult>"
    ).encode()


def complete_multipart(
    location_url: str,
    bucket: str,
    key: str,
    etag: str,
    checksum: tuple[str, str, str] | None = None,
) -> bytes:
    """`checksum`: (algorithm, base64 value, COMPOSITE | FULL_OBJECT) of the
    object stored, as `<ChecksumCRC32>` and `<ChecksumType>`."""
    extra = ""
    if checksum is not None:
        algorithm, value, kind = checksum
        extra = element(f"Checksum{algorithm}", value) + element("ChecksumType", kind)
    return (
        f'{HEAD}<CompleteMultipartUploadResult xmlns="{NS}">'
        f"{element('Location', location_url)}{element('Bucket', bucket)}{element('Key', key)}"
        f"{element('ETag', etag)}{extra}</CompleteMultipartUploadResult>"
    ).encode()


def copy_result(etag: str, last_modified: str) -> bytes:
    return (
        f'{HEAD}<CopyObjectResult xmlns="{NS}">'
        f"{element('LastModified', last_modified)}{element('ETag', etag)}</CopyObjectResult>"
    ).encode()


def delete_result(outcomes: Iterable[DeleteOutcome], quiet: bool) -> bytes:
    parts = [f'{HEAD}<DeleteResult xmlns="{NS}">']
    for o in outcomes:
        version = element("VersionId", o.version_id) if o.version_id else ""
        if o.error_code is None:
            if not quiet:
                marker = ""
                if o.delete_marker:
                    marker = element("DeleteMarker", True)
                    if o.delete_marker_version_id:
                        marker += element("DeleteMarkerVersionId", o.delete_marker_version_id)
                parts.append(f"<Deleted>{element('Key', o.key)}{version}{marker}</Deleted>")
        else:
            parts.append(
                f"<Error>{element('Key', o.key)}{version}{element('Code', o.error_code)}"
                f"{element('Message', o.error_message or o.error_code)}</Error>"
            )
    parts.append("</DeleteResult>")
    return "".join(parts).encode()


# --- parsing untrusted request bodies -------------------------------------------------


def parse_delete(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """DeleteObjects: ((key, version id or None) in request order, quiet)."""
    root = parse_xml(body)
    if local_name(root.tag) != "Delete":
        raise errors.MalformedXML()
    keys = []
    for obj in children(root, "Object"):
        key = text_of(obj, "Key")
        if not key:
            raise errors.MalformedXML()
        version = text_of(obj, "VersionId")
        keys.append((key, version or None))
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise errors.MalformedXML()
    quiet = (text_of(root, "Quiet") or "false").strip().lower() == "true"
    return keys, quiet


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """CompleteMultipartUpload: [(part number, etag)] in request order.

    A part number is ASCII digits (`str.isdigit` would let a superscript
    two through to fail in `int`, and an Arabic-Indic one be read as 1).
    One outside 1..10000 names no part any store holds: InvalidPart,
    without converting what may be thousands of digits."""
    root = parse_xml(body)
    if local_name(root.tag) != "CompleteMultipartUpload":
        raise errors.MalformedXML()
    parts = []
    for part in children(root, "Part"):
        number, etag = text_of(part, "PartNumber"), text_of(part, "ETag")
        digits = (number or "").strip()
        if not etag or not _PART_NUMBER_RE.fullmatch(digits):
            raise errors.MalformedXML()
        digits = digits.lstrip("0")
        if not digits or len(digits) > len(str(MAX_PART_NUMBER)) or int(digits) > MAX_PART_NUMBER:
            raise errors.InvalidPart()
        parts.append((int(digits), etag.strip()))
    if not parts:
        raise errors.MalformedXML()
    return parts


def parse_create_bucket(body: bytes) -> str | None:
    """CreateBucketConfiguration: the LocationConstraint, if any."""
    if not body.strip():
        return None
    root = parse_xml(body)
    if local_name(root.tag) != "CreateBucketConfiguration":
        raise errors.MalformedXML()
    return text_of(root, "LocationConstraint") or None
