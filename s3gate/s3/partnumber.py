"""GET/HEAD `partNumber`: which part of an object to read.

S3 takes 1..10000 in digits; anything else is 400 InvalidArgument (not
clamped, never converted when it is thousands of digits), and a request with
both `partNumber` and `Range` is 400 InvalidRequest, as S3 answers. A part
past the object's parts is the reader's 416 InvalidPartNumber: decided by
the store for a stored object, by the gateway for a masked view (one part).
"""

from __future__ import annotations

from collections.abc import Mapping

from s3gate import errors

PARAM = "partNumber"
MAX_PART_NUMBER = 10_000


def requested(query: Mapping[str, str], range_header: str | None) -> int | None:
    """The part asked for, or None for the whole object."""
    raw = query.get(PARAM)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not (
        1 <= int(raw) <= MAX_PART_NUMBER
    ):
        raise errors.InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            extra={"ArgumentName": PARAM},
        )
    if range_header is not None:
        raise errors.InvalidRequest(
            "Cannot specify both Range header and partNumber query parameter"
        )
    return int(raw)
