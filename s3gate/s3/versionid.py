"""The object version a request names: `versionId` on GET, HEAD and DELETE
(and in DeleteObjects entries), `?versionId=` on a copy source.

Version ids are opaque to the gateway; they are checked only so that what
reaches the policy context, the audit event and the store is bounded and
printable.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from s3gate import errors

# S3's version ids are opaque, up to 1024 bytes (AWS's are 32 characters).
MAX_VERSION_ID = 1024


def check_version_id(value: str) -> str:
    """A version id as a client sent it: non-empty, printable, bounded."""
    if not value or len(value) > MAX_VERSION_ID or not value.isprintable():
        raise errors.InvalidArgument("Invalid version id specified")
    return value


def query_version(query: Mapping[str, str]) -> str | None:
    """The checked `versionId` parameter; None without one."""
    if "versionId" not in query:
        return None
    return check_version_id(query["versionId"])


def requested_version(
    operation: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str | None:
    """The version a request reads or deletes, for its policy context: the
    `versionId` parameter, or a CopyObject's (UploadPartCopy's) source version."""
    if operation in ("CopyObject", "UploadPartCopy") and "x-amz-copy-source" in headers:
        return copy_source_version(headers["x-amz-copy-source"])
    return query_version(query)


def copy_source_version(value: str) -> str | None:
    """The version id of an `x-amz-copy-source` value (`[/]bucket/key` or
    `[/]bucket/key?versionId=…`); nothing but versionId may follow the `?`."""
    _, sep, query = value.partition("?")
    if not sep:
        return None
    name, eq, raw = query.partition("=")
    if name != "versionId" or not eq or "&" in raw:
        raise errors.InvalidArgument("Invalid copy source: only versionId may follow '?'")
    return check_version_id(unquote(raw))
