"""S3 request semantics the local store applies itself: names, ranges, conditions.

Pure functions without I/O, so each rule can be tested on its own and the
storage modules stay about storage. A real S3 endpoint applies these rules on
its side; the local store must answer exactly as it would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from s3gate import errors
from s3gate.upstream.base import ByteRange, Conditions

MAX_KEY_BYTES = 1024
MAX_PAGE = 1000

_BUCKET_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_SHAPE = re.compile(r"\d+\.\d+\.\d+\.\d+")
# Reserved by AWS for its own naming schemes (access points, aliases, S3 Express).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_bucket_name(name: str) -> None:
    if (
        _BUCKET_SHAPE.fullmatch(name) is None
        or ".." in name
        or _IP_SHAPE.fullmatch(name) is not None
        or name.startswith(_RESERVED_PREFIXES)
        or name.endswith(_RESERVED_SUFFIXES)
    ):
        raise errors.InvalidBucketName(extra={"BucketName": name})


def encode_key(key: str) -> bytes:
    """The key as the index stores it: UTF-8 bytes, whose order is S3's listing order."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidArgument("Object key is not valid UTF-8.") from None
    if not raw:
        raise errors.InvalidArgument("Object key must not be empty.")
    if len(raw) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(
            extra={"Size": str(len(raw)), "MaxSizeAllowed": str(MAX_KEY_BYTES)}
        )
    return raw


def page_size(value: int, name: str) -> int:
    """S3 caps page sizes at 1000 and rejects negative ones."""
    if value < 0:
        raise errors.InvalidArgument(
            f"{name} must be a non-negative integer.",
            extra={"ArgumentName": name, "ArgumentValue": str(value)},
        )
    return min(value, MAX_PAGE)


def utf8(value: str, name: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidArgument(f"{name} is not valid UTF-8.") from None


# ---- ETags and digests -------------------------------------------------------


def quote_etag(hex_digest: str) -> str:
    return f'"{hex_digest}"'


def bare_etag(etag: str) -> str:
    return etag.strip().strip('"')


def multipart_etag(part_etags: list[str]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`."""
    joined = b"".join(bytes.fromhex(bare_etag(e)) for e in part_etags)
    digest = hashlib.md5(joined, usedforsecurity=False).hexdigest()
    return quote_etag(f"{digest}-{len(part_etags)}")


def decode_content_md5(value: str) -> bytes:
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest() from None
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest


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


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date as an aware UTC datetime; None when absent or unparsable
    (an unparsable date makes the condition be ignored, per RFC 7232)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


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
        headers={"ETag": etag, "Last-Modified": format_datetime(last_modified, usegmt=True)}
    )
