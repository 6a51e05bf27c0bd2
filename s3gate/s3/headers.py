"""S3 request headers in, S3 response headers out.

What is stored with an object (content headers and user metadata) is taken
from the request here; checksum, signing and transfer headers of the client
are deliberately *not* part of it, so they are never forwarded upstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from s3gate import errors
from s3gate.s3 import tagging
from s3gate.s3.dates import format_http_date
from s3gate.s3.model import ByteRange, Conditions, ObjectHead, is_stored_header

MAX_USER_METADATA_BYTES = 2048  # S3's limit for x-amz-meta-* names + values
# User metadata only the gateway writes (its masking stamp): never taken from
# a client, so that a stored stamp cannot be forged through the gateway.
GATEWAY_META_PREFIX = "x-amz-meta-s3gate-"

TAG_COUNT = "x-amz-tagging-count"

_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# More digits than any object size has (S3's largest object is 5 TiB, 13
# digits). A longer number is read as this one, past every object, rather
# than converted: int() refuses text past 4300 digits, and a header holds more.
_MAX_DIGITS = 19
_PAST_EVERY_OBJECT = 10**_MAX_DIGITS

# GET query parameters that override response headers (presigned downloads).
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def parse_range(value: str | None) -> ByteRange | None:
    """A single byte range, or None. Like S3, a malformed or multi-range
    header is ignored and the whole object is returned. Numbers past every
    object's size keep their meaning (a start past the end is unsatisfiable,
    an end or a suffix past it is the whole object) without being converted
    digit by digit."""
    if not value:
        return None
    m = _RANGE_RE.match(value.strip().replace(" ", ""))
    if not m:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:
        return ByteRange(None, _number(last))
    start, end = _number(first), (_number(last) if last else None)
    if end is not None and end < start:
        return None
    return ByteRange(start, end)


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _PAST_EVERY_OBJECT if len(digits) > _MAX_DIGITS else int(digits)


def conditions(headers: Mapping[str, str], prefix: str = "") -> Conditions:
    """Conditional headers; `prefix="x-amz-copy-source-"` for CopyObject."""
    return Conditions(
        if_match=headers.get(prefix + "if-match"),
        if_none_match=headers.get(prefix + "if-none-match"),
        if_modified_since=headers.get(prefix + "if-modified-since"),
        if_unmodified_since=headers.get(prefix + "if-unmodified-since"),
    )


def stored_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers that are stored with the object (lower-case names),
    without any `x-amz-meta-s3gate-*` a client sent (dropped silently: a
    client copying an object's metadata back must not fail for it)."""
    out: dict[str, str] = {}
    user_bytes = 0
    for name, value in headers.items():
        if not is_stored_header(name) or name.startswith(GATEWAY_META_PREFIX):
            continue
        if name == "content-encoding":
            stripped = without_aws_chunked(value)
            if stripped is None:
                continue
            value = stripped
        if name == tagging.HEADER:
            # Checked against S3's limits on every write, and sent on in one
            # canonical encoding (s3.tagging); an empty one is no tags.
            value = tagging.header_value(tagging.parse_header(value))
            if not value:
                continue
        if name.startswith("x-amz-meta-"):
            user_bytes += len(name) - len("x-amz-meta-") + len(value.encode())
        out[name] = value
    if user_bytes > MAX_USER_METADATA_BYTES:
        raise errors.MetadataTooLarge()
    return out


def without_aws_chunked(value: str) -> str | None:
    """Content-Encoding without the aws-chunked coding (transfer framing the
    gateway has removed, not content), None when nothing else is left. The
    rest is kept exactly as the client wrote it (S3 stores `deflate, gzip`
    verbatim, and clients compare it byte for byte)."""
    pieces = value.split(",")
    kept = [p for p in pieces if p.strip().lower() != "aws-chunked"]
    if len(kept) == len(pieces):
        return value
    rest = ",".join(kept).strip(" \t,")
    return rest or None


def iso_date(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def object_headers(head: ObjectHead) -> dict[str, str]:
    """Headers describing an object (GET and HEAD), without Content-Length."""
    out = {
        "etag": head.etag,
        "last-modified": format_http_date(head.last_modified),
        "accept-ranges": "bytes",
    }
    out.update(head.metadata)
    out.setdefault("content-type", "binary/octet-stream")
    if head.version_id:
        out["x-amz-version-id"] = head.version_id
    if head.parts_count:
        out["x-amz-mp-parts-count"] = str(head.parts_count)
    if head.tag_count:  # S3 leaves it out when the object has no tags
        out[TAG_COUNT] = str(head.tag_count)
    # Read through: what the store says about this version's retention.
    out.update(head.object_lock)
    return out


def apply_overrides(headers: dict[str, str], query: Mapping[str, str]) -> None:
    for param, header in RESPONSE_OVERRIDES.items():
        if param in query:
            headers[header] = query[param]
