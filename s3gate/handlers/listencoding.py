"""The encoding a listing is written in.

`encoding-type=url` when the client asks for it; also when a name the
listing would write (a key, a common prefix, an echoed prefix, delimiter or
marker) holds a character XML 1.0 cannot carry (C0 controls but TAB, LF,
CR; U+FFFE, U+FFFF): written as it is, the document would not parse (not
even the references a C0 character becomes), and no client could read any
entry of the page. Url-encoded, every name is exact and the document says so
(`<EncodingType>url</EncodingType>`), which is what S3 offers such keys.
SDKs ask for `url` on every listing anyway; this changes only what a client
that did not ask gets for such a page. Decided in docs/s3-compatibility.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from s3gate import errors
from s3gate.xmltext import carries

URL = "url"


def asked(query_value: str | None) -> str | None:
    """The encoding the client asked for: none or `url`; anything else is
    refused, as S3 does."""
    encoding = query_value or None
    if encoding not in (None, URL):
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request")
    return encoding


def needed(encoding: str | None, names: Iterable[str | None]) -> str | None:
    """`encoding`, or `url` if a name cannot be written as it is."""
    if encoding == URL:
        return encoding
    if any(name is not None and not carries(name) for name in names):
        return URL
    return encoding
