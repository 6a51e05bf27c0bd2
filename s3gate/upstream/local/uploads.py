"""Multipart upload rows of the local index: uploads, their parts, completion claims.

Functions take the `Index` first, like `Index` methods, so the store runs them
on its database thread (`Store.db(fn, ...)`). Mutations return the blobs they
made unreferenced, for the caller to unlink after the commit.

An upload being completed is *claimed* (`completing = 1`): its parts can no
longer change (upload_part and abort see NoSuchUpload) while they are
validated and joined, so the joined blob matches the ETags that were checked.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from s3gate import errors
from s3gate.s3.model import Metadata
from s3gate.upstream.local.index import (
    Index,
    ObjectRow,
    column,
    dump_metadata,
    exists,
    require_bucket_in,
    upsert_object,
)


@dataclass(frozen=True)
class PartRow:
    part_number: int
    blob: str
    size: int
    etag: str  # quoted
    last_modified: int


@dataclass(frozen=True)
class UploadRow:
    upload_id: str
    initiated: int
    metadata: dict[str, str]


def create_upload(
    index: Index, bucket: str, key: bytes, upload_id: str, now: int, metadata: Metadata
) -> None:
    with index.writing() as db:
        require_bucket_in(db, bucket)
        db.execute(
            "INSERT INTO uploads (bucket, key, upload_id, initiated, metadata) "
            "VALUES (?, ?, ?, ?, ?)",
            (bucket, key, upload_id, now, dump_metadata(metadata)),
        )


def require_upload(index: Index, bucket: str, key: bytes, upload_id: str) -> UploadRow:
    """The upload, if it exists for this key and is not being completed right now."""
    with index.reading() as db:
        return _require_open(db, bucket, key, upload_id)


def put_part(index: Index, bucket: str, key: bytes, upload_id: str, part: PartRow) -> list[str]:
    with index.writing() as db:
        _require_open(db, bucket, key, upload_id)
        old = db.execute(
            "SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?",
            (upload_id, part.part_number),
        ).fetchone()
        db.execute(
            "INSERT OR REPLACE INTO parts "
            "(upload_id, part_number, blob, size, etag, last_modified) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (upload_id, part.part_number, part.blob, part.size, part.etag, part.last_modified),
        )
    return [] if old is None else [old[0]]


def claim_upload(
    index: Index, bucket: str, key: bytes, upload_id: str
) -> tuple[UploadRow, dict[int, PartRow]]:
    """Claim the upload for completion; returns it with all its parts."""
    with index.writing() as db:
        upload = _require_open(db, bucket, key, upload_id)
        db.execute("UPDATE uploads SET completing = 1 WHERE upload_id = ?", (upload_id,))
        rows = db.execute(
            "SELECT part_number, blob, size, etag, last_modified FROM parts WHERE upload_id = ?",
            (upload_id,),
        )
        parts = {r[0]: PartRow(*r) for r in rows}
    return upload, parts


def release_upload(index: Index, upload_id: str) -> None:
    """Undo `claim_upload` after a failed completion; the client may retry."""
    with index.writing() as db:
        db.execute("UPDATE uploads SET completing = 0 WHERE upload_id = ?", (upload_id,))


def finish_upload(
    index: Index, bucket: str, key: bytes, upload_id: str, row: ObjectRow
) -> list[str]:
    """Commit the completed object and drop the claimed upload with its parts."""
    with index.writing() as db:
        require_bucket_in(db, bucket)
        if not exists(
            db,
            "SELECT 1 FROM uploads WHERE bucket = ? AND key = ? AND upload_id = ? "
            "AND completing = 1",
            bucket,
            key,
            upload_id,
        ):
            raise errors.NoSuchUpload(extra={"UploadId": upload_id})
        return upsert_object(db, bucket, key, row) + _drop(db, upload_id)


def abort_upload(index: Index, bucket: str, key: bytes, upload_id: str) -> list[str]:
    with index.writing() as db:
        _require_open(db, bucket, key, upload_id)
        return _drop(db, upload_id)


def reset_claims(index: Index) -> None:
    """Reopen uploads whose completion a crash interrupted (only safe while no
    other process uses the store)."""
    with index.writing() as db:
        db.execute("UPDATE uploads SET completing = 0 WHERE completing = 1")


def _drop(db: sqlite3.Connection, upload_id: str) -> list[str]:
    garbage = column(db, "DELETE FROM parts WHERE upload_id = ? RETURNING blob", upload_id)
    db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
    return garbage


def _require_open(db: sqlite3.Connection, bucket: str, key: bytes, upload_id: str) -> UploadRow:
    row = db.execute(
        "SELECT initiated, metadata FROM uploads "
        "WHERE bucket = ? AND key = ? AND upload_id = ? AND completing = 0",
        (bucket, key, upload_id),
    ).fetchone()
    if row is None:
        require_bucket_in(db, bucket)
        raise errors.NoSuchUpload(extra={"UploadId": upload_id})
    return UploadRow(upload_id, row[0], json.loads(row[1]))
