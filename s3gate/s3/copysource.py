"""The `x-amz-copy-source` header of CopyObject and UploadPartCopy: parsing,
with the same limits as a request's own bucket and key."""

from __future__ import annotations

from urllib.parse import unquote

from s3gate import errors
from s3gate.s3.operations import MAX_KEY_BYTES, validate_bucket_name


def parse_copy_source(value: str) -> tuple[str, str]:
    """`x-amz-copy-source`: URL-encoded `[/]bucket/key`, no version id."""
    path, _, query = value.partition("?")
    if query:
        raise errors.NotImplementedError_("s3gate does not implement versioned copy sources")
    source = unquote(path).lstrip("/")
    bucket, sep, key = source.partition("/")
    if not sep or not key:
        raise errors.InvalidArgument("Copy Source must mention the source bucket and key")
    validate_bucket_name(bucket)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError()
    return bucket, key
