"""Object headers both ways: what we send (stored metadata, conditions) and
what we read back into an `ObjectHead`.

Only the stored set (`model.STORED_HEADERS` and `x-amz-meta-*`) ever crosses in
either direction: a caller cannot smuggle another header upstream through
`metadata`, and checksums, encryption or other response headers of the store
never turn into object metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from s3gate.s3.dates import parse_http_date
from s3gate.s3.model import Conditions, Metadata, ObjectHead, is_stored_header
from s3gate.s3.numbers import whole_number
from s3gate.s3.objectlock import lock_of
from s3gate.upstream.s3 import xml as s3xml


def stored_headers(metadata: Metadata) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if is_stored_header(k.lower())}


def condition_headers(c: Conditions, prefix: str = "") -> dict[str, str]:
    pairs = (
        ("if-match", c.if_match),
        ("if-none-match", c.if_none_match),
        ("if-modified-since", c.if_modified_since),
        ("if-unmodified-since", c.if_unmodified_since),
    )
    return {prefix + name: value for name, value in pairs if value is not None}


def last_modified(value: str | None) -> datetime:
    """The store's Last-Modified, read with the one HTTP-date parser; a
    missing or invalid one is taken as "now", as before (fake stores in the
    tests and some S3 servers omit it on a GET)."""
    return parse_http_date(value) or datetime.now(UTC)


def object_head(resp: aiohttp.ClientResponse, size: int) -> ObjectHead:
    h = resp.headers
    metadata: dict[str, str] = {}
    for name, value in h.items():
        lname = name.lower()
        if is_stored_header(lname):
            metadata[lname] = f"{metadata[lname]},{value}" if lname in metadata else value
    parts = h.get("x-amz-mp-parts-count")
    tags = h.get("x-amz-tagging-count", "")
    checksums = {
        name.lower(): value
        for name, value in h.items()
        if name.lower().startswith("x-amz-checksum-") and name.lower() != "x-amz-checksum-mode"
    }
    return ObjectHead(
        size=size,
        etag=s3xml.quoted_etag(h.get("ETag", "")),
        last_modified=last_modified(h.get("Last-Modified")),
        metadata=metadata,
        version_id=h.get("x-amz-version-id"),
        parts_count=whole_number(parts) if parts else None,
        checksums=checksums,
        object_lock=lock_of(h),
        # At most 10 tags: a count of more than two digits is not one.
        tag_count=int(tags) if tags.isascii() and tags.isdigit() and len(tags) <= 2 else None,
    )
