"""The local directory store keeps no versions: every object is its only
version, `null` (what S3 answers for a bucket never made versioned); nor
part boundaries (`only_part`)."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3.model import NULL_VERSION, ListPage, ObjectHead, VersionInfo, VersionsPage


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


def only_part(head: ObjectHead, part_number: int | None) -> None:
    """GET/HEAD by part: the local store keeps a completed upload as one blob
    without its part boundaries, so only an object of one part can be read
    by part (part 1: the whole object, as S3 answers for a non-multipart
    object); a later part is InvalidPartNumber, a part of a multipart object
    NotImplemented."""
    if part_number is None:
        return
    if (head.parts_count or 1) > 1:
        raise errors.NotImplementedError_(
            "The local store keeps no part boundaries: read the object whole or by Range"
        )
    if part_number != 1:
        raise errors.InvalidPartNumber()
