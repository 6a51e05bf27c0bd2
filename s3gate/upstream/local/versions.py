"""The local directory store keeps no versions: every object is its only
version, `null` (what S3 answers for a bucket never made versioned)."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3.model import NULL_VERSION, ListPage, VersionInfo, VersionsPage


def current_only(version_id: str | None) -> None:
    """A version id names the current object only when it is `null`."""
    if version_id is not None and version_id != NULL_VERSION:
        raise errors.NoSuchVersion()


def versions_page(page: ListPage) -> VersionsPage:
    return VersionsPage(
        [
            VersionInfo(o.key, NULL_VERSION, True, o.last_modified, False, o.size, o.etag)
            for o in page.contents
        ],
        page.common_prefixes,
        page.is_truncated,
        page.next_after,
        NULL_VERSION if page.is_truncated else None,
    )
