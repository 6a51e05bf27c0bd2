"""One page of ListMultipartUploads over uploads the gateway holds in hand,
with S3's rules: uploads ordered by (key, upload id) — key order is code
point order, as S3's UTF-8 byte order — keys under `prefix` only, keys past
`prefix` that contain `delimiter` rolled up into one common prefix (counted
once against `max_uploads`), listing resumed after (`key_marker`,
`upload_id_marker`): with an upload id marker, later uploads of the marker key
come first; a marker inside a common prefix skips that prefix (it was listed).

Used where a listing merges two sources (the store's uploads and the masked
uploads staged by the gateway), so that paging through the merge is exact.
The local store applies the same rules in SQL (`upstream/local/listing.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from s3gate.s3.model import UploadInfo, UploadsPage


def _rolled_up(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _after_marker(
    upload: UploadInfo,
    prefix: str,
    delimiter: str | None,
    key_marker: str | None,
    upload_id_marker: str | None,
) -> bool:
    if not key_marker:
        return True
    marker_prefix = (
        _rolled_up(key_marker, prefix, delimiter) if key_marker.startswith(prefix) else None
    )
    if marker_prefix is not None:
        # The marker was (inside) a common prefix already listed: skip all of it.
        return upload.key > key_marker and not upload.key.startswith(marker_prefix)
    if upload_id_marker:
        return (upload.key, upload.upload_id) > (key_marker, upload_id_marker)
    return upload.key > key_marker


def page_of(
    uploads: Iterable[UploadInfo],
    *,
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    key_marker: str | None,
    upload_id_marker: str | None,
) -> UploadsPage:
    if max_uploads <= 0:
        return UploadsPage(uploads=[], common_prefixes=[], is_truncated=False)
    ordered = sorted(
        (
            u
            for u in uploads
            if u.key.startswith(prefix)
            and _after_marker(u, prefix, delimiter, key_marker, upload_id_marker)
        ),
        key=lambda u: (u.key, u.upload_id),
    )
    entries: list[UploadInfo | str] = []
    for upload in ordered:
        common = _rolled_up(upload.key, prefix, delimiter)
        if common is not None:
            if entries and entries[-1] == common:
                continue
            entries.append(common)
        else:
            entries.append(upload)
        if len(entries) > max_uploads:
            break
    return cut(entries, max_uploads)


def cut(entries: Sequence[UploadInfo | str], max_uploads: int) -> UploadsPage:
    """The page of the first `max_uploads` entries (uploads and common
    prefixes in listing order; one entry more says that more follow), its
    next markers naming its last entry. The local store cuts its pages here
    too."""
    truncated = len(entries) > max_uploads
    page = entries[:max_uploads]
    next_key = next_id = None
    if truncated and page:
        last = page[-1]
        if isinstance(last, str):
            next_key = last
        else:
            next_key, next_id = last.key, last.upload_id
    return UploadsPage(
        uploads=[e for e in page if isinstance(e, UploadInfo)],
        common_prefixes=[e for e in page if isinstance(e, str)],
        is_truncated=truncated,
        next_key_marker=next_key,
        next_upload_id_marker=next_id,
    )
