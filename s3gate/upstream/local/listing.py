"""Listings over the local index: objects, multipart uploads, parts.

Each listing walks a primary-key B-tree from its start position with small
LIMITed range queries inside one read snapshot, so a page costs about
O(page x log n) whatever the bucket size, and memory holds one page. A
delimiter's roll-up never reads the keys it hides: after the first key of a
common prefix the scan seeks straight past every key under it, to
`common_prefix + b"\\xff"` (no UTF-8 key contains the byte 0xFF).

These functions block; they run on the store's database thread.
"""

from __future__ import annotations

from s3gate import errors
from s3gate.s3 import uploadpages
from s3gate.s3.model import ListPage, ObjectInfo, PartInfo, PartsPage, UploadInfo, UploadsPage
from s3gate.upstream.local.index import Index, to_datetime

# Greater than every key that starts with what it is appended to.
_PAST = b"\xff"
# Appended to a key, the smallest byte string greater than it.
_NEXT = b"\x00"


def rolled_up(key: bytes, prefix: bytes, delimiter: bytes | None) -> bytes | None:
    """The common prefix that `key` (which starts with `prefix`) rolls into, or None."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _resume_at(marker: bytes, prefix: bytes, delimiter: bytes | None) -> bytes:
    """Smallest key to list after `marker`. A marker inside a common prefix means
    that prefix was already listed (it sorts before its keys), so skip all of it."""
    common = rolled_up(marker, prefix, delimiter) if marker.startswith(prefix) else None
    return common + _PAST if common is not None else marker + _NEXT


def list_objects(
    index: Index,
    bucket: str,
    *,
    prefix: bytes,
    delimiter: bytes | None,
    max_keys: int,
    after: bytes | None,
) -> ListPage:
    low = prefix if after is None else max(prefix, _resume_at(after, prefix, delimiter))
    high = prefix + _PAST
    entries: list[ObjectInfo | str] = []
    with index.reading() as db:
        index.require_bucket(bucket)
        # One entry beyond the page tells whether the listing is truncated.
        while max_keys and len(entries) <= max_keys:
            want = max_keys + 1 - len(entries)
            rows = db.execute(
                "SELECT key, size, etag, last_modified FROM objects "
                "WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?",
                (bucket, low, high, want),
            ).fetchall()
            for key, size, etag, last_modified in rows:
                common = rolled_up(key, prefix, delimiter)
                if common is not None:
                    entries.append(common.decode())
                    low = common + _PAST
                    break  # the rest of `rows` may be hidden by this prefix: seek past
                entries.append(ObjectInfo(key.decode(), size, etag, to_datetime(last_modified)))
                low = key + _NEXT
            else:
                if len(rows) < want:
                    break
    truncated = len(entries) > max_keys
    page = entries[:max_keys]
    next_after = None
    if truncated:
        last = page[-1]
        next_after = last if isinstance(last, str) else last.key
    return ListPage(
        contents=[e for e in page if isinstance(e, ObjectInfo)],
        common_prefixes=[e for e in page if isinstance(e, str)],
        is_truncated=truncated,
        next_after=next_after,
    )


def list_uploads(
    index: Index,
    bucket: str,
    *,
    prefix: bytes,
    delimiter: bytes | None,
    max_uploads: int,
    key_marker: bytes | None,
    upload_id_marker: str | None,
) -> UploadsPage:
    # Uploads are ordered by (key, upload id); upload ids sort in creation order.
    # The position is exclusive; (k, "") stands for "from key k on", as ids are never empty.
    position: tuple[bytes, str] = (prefix, "")
    if key_marker is not None:
        inside = key_marker.startswith(prefix)
        if upload_id_marker and not (inside and rolled_up(key_marker, prefix, delimiter)):
            # S3: with an upload-id-marker, later uploads of the marker key come first.
            position = max(position, (key_marker, upload_id_marker))
        else:
            position = max(position, (_resume_at(key_marker, prefix, delimiter), ""))
    high = prefix + _PAST
    entries: list[UploadInfo | str] = []
    with index.reading() as db:
        index.require_bucket(bucket)
        while max_uploads and len(entries) <= max_uploads:
            want = max_uploads + 1 - len(entries)
            rows = db.execute(
                "SELECT key, upload_id, initiated FROM uploads "
                "WHERE bucket = ? AND (key, upload_id) > (?, ?) AND key < ? "
                "ORDER BY key, upload_id LIMIT ?",
                (bucket, *position, high, want),
            ).fetchall()
            for key, upload_id, initiated in rows:
                common = rolled_up(key, prefix, delimiter)
                if common is not None:
                    entries.append(common.decode())
                    position = (common + _PAST, "")
                    break
                entries.append(UploadInfo(key.decode(), upload_id, to_datetime(initiated)))
                position = (key, upload_id)
            else:
                if len(rows) < want:
                    break
    return uploadpages.cut(entries, max_uploads)


def list_parts(
    index: Index, bucket: str, key: bytes, upload_id: str, *, max_parts: int, marker: int
) -> PartsPage:
    with index.reading() as db:
        found = db.execute(
            "SELECT 1 FROM uploads WHERE bucket = ? AND key = ? AND upload_id = ?",
            (bucket, key, upload_id),
        ).fetchone()
        if found is None:
            index.require_bucket(bucket)
            raise errors.NoSuchUpload(extra={"UploadId": upload_id})
        rows = db.execute(
            "SELECT part_number, etag, size, last_modified FROM parts "
            "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
            (upload_id, marker, max_parts + 1),
        ).fetchall()
    parts = [PartInfo(n, etag, size, to_datetime(lm)) for n, etag, size, lm in rows]
    truncated = max_parts > 0 and len(parts) > max_parts
    page = parts[:max_parts]
    return PartsPage(
        parts=page,
        is_truncated=truncated,
        next_part_number_marker=page[-1].part_number if truncated else None,
    )
