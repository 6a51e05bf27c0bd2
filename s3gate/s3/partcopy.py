"""UploadPartCopy's own request header and answer document.

`x-amz-copy-source-range` is strict where GET's `Range` is lenient: S3
accepts only `bytes=first-last` (both given, first ≤ last) and refuses
anything else with InvalidArgument rather than copying the whole source.
"""

from __future__ import annotations

import re

from s3gate import errors
from s3gate.s3 import xmldoc
from s3gate.s3.model import ByteRange

RANGE_HEADER = "x-amz-copy-source-range"
_RANGE = re.compile(r"bytes=(\d{1,19})-(\d{1,19})")


def parse_range(value: str | None) -> ByteRange | None:
    """The source range to copy; None copies the whole source."""
    if value is None:
        return None
    m = _RANGE.fullmatch(value.strip())
    if m is None or int(m.group(1)) > int(m.group(2)):
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last "
            "where first and last are the zero-based offsets of the first and last bytes to copy",
            extra={"ArgumentName": RANGE_HEADER},
        )
    return ByteRange(int(m.group(1)), int(m.group(2)))


def result(etag: str, last_modified: str, checksums: dict[str, str] | None = None) -> bytes:
    """The CopyPartResult document; `checksums` maps an algorithm (CRC32, …)
    to its base64 value, rendered as `<ChecksumCRC32>`."""
    extra = "".join(
        xmldoc.element(f"Checksum{algorithm}", value)
        for algorithm, value in (checksums or {}).items()
    )
    return (
        f'{xmldoc.HEAD}<CopyPartResult xmlns="{xmldoc.NS}">'
        f"{xmldoc.element('LastModified', last_modified)}{xmldoc.element('ETag', etag)}{extra}"
        "</CopyPartResult>"
    ).encode()
