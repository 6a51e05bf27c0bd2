"""Object versions as the gateway and its stores speak of them.

Kept apart from `base` (which holds the unversioned vocabulary) so that the
versioned surface — bucket versioning state, version listings, deletes by
version — reads as one piece. A store that keeps no versions (the local
directory store) answers every object as its only version, `null`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

NULL_VERSION = "null"
# What a bucket's versioning configuration may say (S3's words); None: never
# configured (S3 answers an empty VersioningConfiguration).
STATUSES = ("Enabled", "Suspended")


@dataclass(frozen=True)
class VersionInfo:
    """One entry of a version listing: an object version or a delete marker."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    delete_marker: bool = False
    size: int = 0  # 0 and "" for delete markers
    etag: str = ""
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class VersionsPage:
    versions: list[VersionInfo]  # object versions and delete markers, in listing order
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


@dataclass(frozen=True)
class DeleteResult:
    """What a DeleteObject did on a versioned bucket: which version it
    removed, or the delete marker it added (then `delete_marker` is true and
    `version_id` is the marker's)."""

    version_id: str | None = None
    delete_marker: bool = False
