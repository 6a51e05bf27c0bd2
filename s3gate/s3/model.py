"""The S3 vocabulary: the floor every box may import.

Buckets, objects, listing pages, heads, metadata, conditional-request headers
and byte ranges as typed frozen values, and S3's pure rules over them (range
resolution, RFC 9110 precondition evaluation, which write conditions S3
supports). The first box (`s3/`) parses requests into these, handlers pass
them to an `Upstream` (`upstream/base.py`), the stores answer in them. This
module imports nothing of ours but `s3gate.errors`, so that `s3/` and
`upstream/` both sit on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from s3gate import errors
from s3gate.s3.dates import format_http_date, parse_http_date

# Metadata headers stored with an object and returned on GET/HEAD. Keys are
# lower-case header names; user metadata keeps its `x-amz-meta-` prefix.
STORED_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "expires",
        "x-amz-website-redirect-location",
        "x-amz-storage-class",
        "x-amz-tagging",
    }
)
USER_META_PREFIX = "x-amz-meta-"

Metadata = Mapping[str, str]


def is_stored_header(name: str) -> bool:
    return name in STORED_HEADERS or name.startswith(USER_META_PREFIX)


@dataclass(frozen=True)
class BucketInfo:
    name: str
    created: datetime


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing."""

    key: str
    size: int
    etag: str  # quoted, as S3 returns it: '"abc…"' or '"abc…-3"'
    last_modified: datetime
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class ListPage:
    contents: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    # The last key or common prefix in this page, in listing order; the caller
    # resumes with `after=next_after`. None when not truncated.
    next_after: str | None = None


@dataclass(frozen=True)
class ObjectHead:
    size: int  # size of the whole object
    etag: str  # quoted
    last_modified: datetime
    metadata: Metadata = field(default_factory=dict)
    version_id: str | None = None
    parts_count: int | None = None
    # The store's x-amz-checksum-* (and -type) headers, only when asked for
    # with checksum_mode; they describe the stored object, whole.
    checksums: Mapping[str, str] = field(default_factory=dict)
    # The store's x-amz-object-lock-* headers of this version (s3.objectlock).
    object_lock: Mapping[str, str] = field(default_factory=dict)
    # The store's x-amz-tagging-count: how many tags the version has.
    tag_count: int | None = None


@dataclass(frozen=True)
class Conditions:
    """Conditional request headers, as the client sent them (raw values)."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None

    def any(self) -> bool:
        return any(
            (self.if_match, self.if_none_match, self.if_modified_since, self.if_unmodified_since)
        )


@dataclass(frozen=True)
class ByteRange:
    """A validated single byte range. `end` is inclusive; None means to the end.

    A suffix range (`bytes=-N`) has start None and end N (the suffix length)."""

    start: int | None
    end: int | None

    def header(self) -> str:
        if self.start is None:
            return f"bytes=-{self.end}"
        return f"bytes={self.start}-" + ("" if self.end is None else str(self.end))


@dataclass(frozen=True)
class PutResult:
    etag: str  # quoted
    version_id: str | None = None


@dataclass(frozen=True)
class CopyResult:
    etag: str
    last_modified: datetime
    version_id: str | None = None


@dataclass(frozen=True)
class DeleteOutcome:
    key: str
    error_code: str | None = None  # None: deleted (or did not exist)
    error_message: str | None = None
    # Versioned buckets: the version asked for (and removed), or the delete
    # marker a plain delete added (delete_marker true, its id).
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class PartsPage:
    parts: list[PartInfo]
    is_truncated: bool
    next_part_number_marker: int | None = None


@dataclass(frozen=True)
class UploadInfo:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class UploadsPage:
    uploads: list[UploadInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_upload_id_marker: str | None = None


# ---- Object versions ---------------------------------------------------------
# The versioned surface: bucket versioning state, version listings, deletes by
# version. A store that keeps no versions (the local directory store) answers
# every object as its only version, `null`.

NULL_VERSION = "null"
# What a bucket's versioning configuration may say (S3's words); None: never
# configured (S3 answers an empty VersioningConfiguration).
VERSIONING_STATUSES = ("Enabled", "Suspended")


@dataclass(frozen=True)
class VersionInfo:
    """One entry of a version listing: an object version or a delete marker."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    delete_marker: bool = False
    size: int = 0  # 0 and "" for delete markers
    etag: str = ""
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class VersionsPage:
    versions: list[VersionInfo]  # object versions and delete markers, in listing order
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


@dataclass(frozen=True)
class DeleteResult:
    """What a DeleteObject did on a versioned bucket: which version it
    removed, or the delete marker it added (then `delete_marker` is true and
    `version_id` is the marker's)."""

    version_id: str | None = None
    delete_marker: bool = False


# ---- Rules over the vocabulary (pure functions, no I/O) ----------------------
# S3's rules for byte ranges and conditional requests (RFC 7232/7233 as S3
# applies them), shared by the local store and the gateway's masked read views.


def bare_etag(etag: str) -> str:
    return etag.strip().strip('"')


# ---- Ranges ------------------------------------------------------------------


def resolve_range(rng: ByteRange, size: int) -> tuple[int, int] | None:
    """Inclusive (first, last) byte offsets of `rng` over an object of `size` bytes.

    None means the range is malformed and, as RFC 7233 says, is ignored (the
    whole object is served). An unsatisfiable range raises InvalidRange; that
    includes every range over an empty object, as S3 answers."""
    if rng.start is None:
        if rng.end is None or rng.end < 0:
            return None
        if rng.end == 0 or size == 0:
            raise _unsatisfiable(rng, size)
        return max(0, size - rng.end), size - 1
    if rng.start < 0 or (rng.end is not None and rng.end < rng.start):
        return None
    if rng.start >= size:
        raise _unsatisfiable(rng, size)
    last = size - 1 if rng.end is None else min(rng.end, size - 1)
    return rng.start, last


def _unsatisfiable(rng: ByteRange, size: int) -> errors.InvalidRange:
    return errors.InvalidRange(
        extra={"RangeRequested": rng.header(), "ActualObjectSize": str(size)},
        headers={"Content-Range": f"bytes */{size}"},
    )


# ---- Conditions --------------------------------------------------------------


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match list names `etag` (quotes optional)."""
    want = bare_etag(etag)
    for item in header.split(","):
        candidate = item.strip()
        if candidate == "*" or bare_etag(candidate) == want:
            return True
    return False


def check_conditions(
    conditions: Conditions, etag: str, last_modified: datetime, *, for_copy: bool = False
) -> None:
    """Evaluate conditional headers against an existing object, in RFC 7232 order.

    Raises PreconditionFailed (412) or, for GET/HEAD, NotModified (304). For a
    copy source every failure is a 412, as S3 answers x-amz-copy-source-if-*."""
    if conditions.if_match:
        if not etag_matches(conditions.if_match, etag):
            raise _failed("If-Match")
    else:
        # If-Unmodified-Since only counts when If-Match is absent.
        since = parse_http_date(conditions.if_unmodified_since)
        if since is not None and last_modified > since:
            raise _failed("If-Unmodified-Since")
    if conditions.if_none_match:
        if etag_matches(conditions.if_none_match, etag):
            raise _failed("If-None-Match") if for_copy else _not_modified(etag, last_modified)
    else:
        # If-Modified-Since only counts when If-None-Match is absent.
        since = parse_http_date(conditions.if_modified_since)
        if since is not None and last_modified <= since:
            raise _failed("If-Modified-Since") if for_copy else _not_modified(etag, last_modified)


def _failed(condition: str) -> errors.PreconditionFailed:
    return errors.PreconditionFailed(extra={"Condition": condition})


def _not_modified(etag: str, last_modified: datetime) -> errors.NotModified:
    # A 304 still carries the validators (RFC 7232 §4.1), as S3 sends them.
    return errors.NotModified(
        headers={"ETag": etag, "Last-Modified": format_http_date(last_modified)}
    )


def write_conditions(c: Conditions) -> Conditions:
    """The conditions a write supports (S3's conditional PutObject):
    `If-None-Match: *` and `If-Match: <etag>`; anything else is refused."""
    if c.if_modified_since or c.if_unmodified_since:
        raise errors.NotImplementedError_("Date conditions are not supported on writes")
    if c.if_none_match not in (None, "*"):
        raise errors.NotImplementedError_("If-None-Match on a write only supports '*'")
    return Conditions(if_match=c.if_match, if_none_match=c.if_none_match)
