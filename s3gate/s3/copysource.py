"""The `x-amz-copy-source` header of CopyObject and UploadPartCopy: parsing,
with the same limits as a request's own bucket and key."""

from __future__ import annotations

from urllib.parse import unquote

from s3gate import errors
from s3gate.s3.operations import MAX_KEY_BYTES, validate_bucket_name
from s3gate.s3.versionid import copy_source_version


def split_copy_source(value: str) -> tuple[str, str, str | None]:
    """`x-amz-copy-source`: URL-encoded `[/]bucket/key`, optionally
    `?versionId=…` (nothing else after the `?`): bucket, key, version id."""
    version = copy_source_version(value)
    path = value.partition("?")[0]
    source = unquote(path).lstrip("/")
    bucket, sep, key = source.partition("/")
    if not sep or not key:
        raise errors.InvalidArgument("Copy Source must mention the source bucket and key")
    validate_bucket_name(bucket)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError()
    return bucket, key, version


def parse_copy_source(value: str) -> tuple[str, str]:
    """The copy source's bucket and key (what the policy decides on)."""
    bucket, key, _ = split_copy_source(value)
    return bucket, key
