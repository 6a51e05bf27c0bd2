"""Object tags: the `Tagging` document and the `x-amz-tagging` header.

Both come from clients (PutObjectTagging bodies; the header on PutObject,
CreateMultipartUpload and CopyObject) and are parsed here with S3's limits
before anything else looks at them: at most 10 tags, keys of 1 to 128 and values
of at most 256 characters (Unicode code points, as S3 counts) of the
characters AWS allows in tags (letters, digits, spaces and `_ . : / = + - @`),
no key twice, no key under the reserved `aws:` prefix. A document that is not the
`Tagging` shape is `MalformedXML`; a tag over a limit is `InvalidTag`; a
header that is not UTF-8 URL-encoded pairs without duplicates is
`InvalidArgument`, as S3 answers. The XML document is `s3.tagxml`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from s3gate import errors

MAX_TAGS = 10
MAX_BUCKET_TAGS = 50  # S3 allows a bucket more tags than an object
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
RESERVED_PREFIX = "aws:"
HEADER = "x-amz-tagging"
DIRECTIVE_HEADER = "x-amz-tagging-directive"
# What AWS allows in a tag besides letters, digits and spaces
# (`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`).
ALLOWED_PUNCTUATION = frozenset("_.:/=+-@")


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


TagSet = tuple[Tag, ...]


def check(tags: TagSet, max_tags: int = MAX_TAGS) -> TagSet:
    """`tags` if they are within S3's limits (`max_tags`: a bucket's
    MAX_BUCKET_TAGS); InvalidTag otherwise."""
    if len(tags) > max_tags:
        raise too_many(max_tags)
    seen: set[str] = set()
    for tag in tags:
        if not tag.key:
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        if not allowed(tag.key):
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        if not allowed(tag.value):
            raise errors.InvalidTag("The TagValue you have provided is invalid")
        if len(tag.key) > MAX_KEY_CHARS:
            raise errors.InvalidTag(
                f"The TagKey you have provided is too long, max {MAX_KEY_CHARS}"
            )
        if len(tag.value) > MAX_VALUE_CHARS:
            raise errors.InvalidTag(
                f"The TagValue you have provided is too long, max {MAX_VALUE_CHARS}"
            )
        if tag.key.lower().startswith(RESERVED_PREFIX):
            raise errors.InvalidTag("Your TagKey cannot be prefixed with aws:")
        if tag.key in seen:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
        seen.add(tag.key)
    return tags


def allowed(text: str) -> bool:
    """Only characters AWS allows in a tag: letters, digits, spaces, `_.:/=+-@`."""
    return all(c in ALLOWED_PUNCTUATION or unicodedata.category(c)[0] in "LNZ" for c in text)


def as_allowed(text: str) -> str:
    """`text` with each character a tag may not hold replaced by `_` (for a
    value the gateway rewrote: `[REDACTED:EMAIL]` becomes `_REDACTED:EMAIL_`)."""
    return "".join(
        c if c in ALLOWED_PUNCTUATION or unicodedata.category(c)[0] in "LNZ" else "_" for c in text
    )


def parse_header(value: str) -> TagSet:
    """The `x-amz-tagging` header: `k1=v1&k2=v2`, URL-encoded UTF-8."""
    if value == "":
        return ()
    pieces = value.split("&")
    if len(pieces) > MAX_TAGS:
        raise errors.InvalidTag(f"Object tags cannot be greater than {MAX_TAGS}")
    tags = []
    seen: set[str] = set()
    for piece in pieces:
        name, _, raw = piece.partition("=")
        key, text = _decode(name), _decode(raw)
        if key in seen:
            raise _bad_header()
        seen.add(key)
        tags.append(Tag(key, text))
    return check(tuple(tags))


def _decode(part: str) -> str:
    try:
        raw = part.replace("+", " ").encode("latin-1")
        return unquote_to_bytes(raw).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        raise _bad_header() from exc


def _bad_header() -> errors.InvalidArgument:
    return errors.InvalidArgument(
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
        "parameters without tag name duplicates.",
        extra={"ArgumentName": HEADER},
    )


def header_value(tags: TagSet) -> str:
    """`tags` as an `x-amz-tagging` value (every reserved character escaped)."""
    return "&".join(f"{quote(t.key, safe='')}={quote(t.value, safe='')}" for t in tags)


def directive(value: str | None) -> str:
    """CopyObject's `x-amz-tagging-directive`: COPY (the default) or REPLACE."""
    chosen = (value or "COPY").strip().upper()
    if chosen not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            "Unknown tagging directive.", extra={"ArgumentName": DIRECTIVE_HEADER}
        )
    return chosen


def too_many(max_tags: int) -> errors.InvalidTag:
    whose = "Object" if max_tags == MAX_TAGS else "Bucket"
    return errors.InvalidTag(f"{whose} tags cannot be greater than {max_tags}")
