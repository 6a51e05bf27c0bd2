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

from s3gate import errors
from s3gate.s3.model import bare_etag

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
