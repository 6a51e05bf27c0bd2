"""Whole numbers in S3 requests (query parameters, length headers), read in
one place.

Python's `int()` and `str.isdigit()` accept far more than S3 does: `int()`
takes a sign, surrounding spaces, `_` separators and any Unicode decimal
digit (`int("٣") == 3`), and `isdigit()` is true for superscripts that
`int()` then refuses with a ValueError. S3 numbers are ASCII digits only,
so that is all that is accepted here, and only up to a length: a value of
ten thousand digits is refused before it is converted (CPython's int()
of a long string is quadratic, and no S3 number needs more than 19 digits).
"""

from __future__ import annotations

import re

# A signed 64-bit integer has 19 digits; no count, length or time in S3
# needs more.
MAX_DIGITS = 19

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def whole_number(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """The value of `text` if it is 1 to `max_digits` ASCII digits (leading
    zeros allowed, nothing else: no sign, space or separator); None if not."""
    if not 0 < len(text) <= max_digits or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)
