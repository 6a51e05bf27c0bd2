"""S3's rules for byte ranges and conditional requests (RFC 7232/7233 as S3
applies them), shared by the local store and the gateway's masked read views.
Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from s3gate import errors
from s3gate.upstream.base import ByteRange, Conditions


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


# ---- Conditional writes --------------------------------------------------------

# Writes whose If-Match / If-None-Match S3 evaluates against the target key.
CONDITIONAL_WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})


def refuse_conditional_write(headers: Mapping[str, str]) -> None:
    """s3gate does not (yet) carry write conditions to the store. Ignoring
    them would turn a client's "create only if absent" into an overwrite, so
    they are refused instead."""
    if "if-match" in headers or "if-none-match" in headers:
        raise errors.NotImplementedError_(
            "s3gate does not implement conditional writes (If-Match / If-None-Match on a write)"
        )


def write_conditions(c: Conditions) -> Conditions:
    """The conditions a write supports (S3's conditional PutObject):
    `If-None-Match: *` and `If-Match: <etag>`; anything else is refused."""
    if c.if_modified_since or c.if_unmodified_since:
        raise errors.NotImplementedError_("Date conditions are not supported on writes")
    if c.if_none_match not in (None, "*"):
        raise errors.NotImplementedError_("If-None-Match on a write only supports '*'")
    return Conditions(if_match=c.if_match, if_none_match=c.if_none_match)
