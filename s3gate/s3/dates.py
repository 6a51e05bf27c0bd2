"""HTTP dates (RFC 9110 §5.6.7), read and written in one place.

Part of the floor: imports nothing of ours. Used for conditional request
headers (`s3.model.check_conditions`), the Last-Modified the S3 upstream
answers with (`upstream/s3/headers.py`) and the dates the gateway sends.

What counts as a valid HTTP date (decided here, see docs/architecture.md):
the three forms RFC 9110 says a recipient must accept (IMF-fixdate, RFC 850,
asctime), plus RFC 5322 numeric zones, which are unambiguous and converted to
UTC. A date whose zone is missing or unknown is *not* valid (except asctime,
which RFC 9110 defines as UTC, and RFC 5322's `-0000`, "UTC, no local zone"):
guessing UTC for `… 08:49:37 XYZ` would evaluate a condition against a time
the client never meant. The callers decide what an invalid date means: a
condition header with one is ignored (RFC 9110 §13.1.3/§13.1.4); an upstream
answer with one is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

# Longer than any of the three forms with a numeric zone and slack for
# whitespace; anything longer is not a date and is not handed to the parser.
MAX_HTTP_DATE_CHARS = 64

_ASCTIME = re.compile(r"[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}")


def parse_http_date(value: str | None) -> datetime | None:
    """`value` as an aware UTC datetime; None when absent or not a valid HTTP
    date (see the module docstring for what is valid)."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_HTTP_DATE_CHARS:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # email.utils returns a naive datetime for "-0000", for a missing
        # zone and for a zone name it does not know; only the first (and
        # asctime, which has no zone field) mean UTC.
        if not (text.endswith("-0000") or _ASCTIME.fullmatch(text)):
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_http_date(when: datetime) -> str:
    """IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form to send;
    sub-second precision is dropped, as HTTP dates have none."""
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def format_iso8601(when: datetime) -> str:
    """ISO 8601 in UTC to the second (`2026-01-02T03:04:05Z`), AWS's form
    for an STS credential's Expiration and the times of a refused presigned
    URL. (Listings' LastModified carries milliseconds: `s3.headers.iso_date`.)"""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
