"""The local store's index: SQLite rows mapping keys to blobs, uploads to parts.

One database file (`index.sqlite3` under the store root) in WAL mode with
`synchronous=FULL`, so a committed row survives power loss and readers never
wait for writers. Keys are stored as UTF-8 BLOBs: SQLite compares BLOBs with
memcmp, which is exactly S3's listing order, and no valid UTF-8 key contains
the byte 0xFF, which gives cheap exclusive upper bounds for prefix scans.

An `Index` is used from one thread only (the store's database thread). Every
mutation runs in one `BEGIN IMMEDIATE` transaction and returns the blobs it
made unreferenced, which the caller unlinks after the commit. This module
holds the schema, buckets and objects; `uploads` the multipart rows and
`listing` the paged scans, both through `Index.writing` / `Index.reading`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from s3gate import errors
from s3gate.s3.model import Conditions, Metadata, ObjectHead, bare_etag

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    parts_count INTEGER,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_blob ON objects (blob);
CREATE TABLE IF NOT EXISTS uploads (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    upload_id TEXT NOT NULL,
    initiated INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    completing INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key, upload_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS uploads_by_id ON uploads (upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parts_by_blob ON parts (blob);
"""


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class ObjectRow:
    blob: str
    size: int
    etag: str  # quoted
    last_modified: int  # unix seconds: S3 dates have second precision
    metadata: dict[str, str]
    parts_count: int | None = None

    def head(self) -> ObjectHead:
        return ObjectHead(
            size=self.size,
            etag=self.etag,
            last_modified=to_datetime(self.last_modified),
            metadata=dict(self.metadata),
            # Kept in the row for a future partNumber read; S3 reports the count
            # (x-amz-mp-parts-count) only when a part is requested, never on a plain GET.
            parts_count=None,
        )


class Index:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: Path) -> Index:
        # isolation_level=None: transactions are begun explicitly, never implicitly.
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # Other processes (uvicorn workers) may share the file; wait for them.
            conn.execute("PRAGMA busy_timeout=10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{path} has index schema {version}, newer than this code")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def ping(self) -> None:
        self._conn.execute("SELECT 1").fetchone()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so read-then-write logic inside
        # the transaction cannot be invalidated by another writer.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several queries (a listing's page)."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    # ---- buckets -------------------------------------------------------------

    def list_buckets(self) -> list[tuple[str, int]]:
        return list(self._conn.execute("SELECT name, created FROM buckets ORDER BY name"))

    def create_bucket(self, name: str, now: int) -> None:
        with self.writing() as db:
            if exists(db, "SELECT 1 FROM buckets WHERE name = ?", name):
                raise errors.BucketAlreadyOwnedByYou(extra={"BucketName": name})
            db.execute("INSERT INTO buckets (name, created) VALUES (?, ?)", (name, now))

    def require_bucket(self, name: str) -> None:
        require_bucket_in(self._conn, name)

    def delete_bucket(self, name: str) -> list[str]:
        """S3 deletes a bucket's unfinished multipart uploads along with it."""
        with self.writing() as db:
            require_bucket_in(db, name)
            if exists(db, "SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", name):
                raise errors.BucketNotEmpty(extra={"BucketName": name})
            garbage = column(
                db,
                "SELECT p.blob FROM uploads u JOIN parts p ON p.upload_id = u.upload_id "
                "WHERE u.bucket = ?",
                name,
            )
            db.execute(
                "DELETE FROM parts WHERE upload_id IN "
                "(SELECT upload_id FROM uploads WHERE bucket = ?)",
                (name,),
            )
            db.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
            db.execute("DELETE FROM buckets WHERE name = ?", (name,))
        return garbage

    # ---- objects -------------------------------------------------------------

    def lookup(self, bucket: str, key: bytes) -> ObjectRow:
        with self.reading() as db:
            require_bucket_in(db, bucket)
            row = db.execute(
                "SELECT blob, size, etag, last_modified, metadata, parts_count "
                "FROM objects WHERE bucket = ? AND key = ?",
                (bucket, key),
            ).fetchone()
        if row is None:
            raise errors.NoSuchKey(extra={"Key": key.decode()})
        blob, size, etag, last_modified, metadata, parts_count = row
        return ObjectRow(blob, size, etag, last_modified, json.loads(metadata), parts_count)

    def put_object(
        self, bucket: str, key: bytes, row: ObjectRow, conditions: Conditions | None = None
    ) -> list[str]:
        with self.writing() as db:
            require_bucket_in(db, bucket)
            if conditions is not None and (conditions.if_none_match or conditions.if_match):
                found = db.execute(
                    "SELECT etag FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
                ).fetchone()
                current = None if found is None else str(found[0])
                if conditions.if_none_match is not None and current is not None:
                    raise errors.PreconditionFailed()
                if conditions.if_match is not None and (
                    current is None or bare_etag(current) != bare_etag(conditions.if_match)
                ):
                    raise errors.PreconditionFailed() if current else errors.NoSuchKey()
            garbage = upsert_object(db, bucket, key, row)
        return garbage

    def create_object(self, bucket: str, key: bytes, row: ObjectRow) -> list[str]:
        """put_object with `If-None-Match: *`, checked in the same transaction."""
        with self.writing() as db:
            require_bucket_in(db, bucket)
            taken = db.execute(
                "SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if taken is not None:
                raise errors.PreconditionFailed(extra={"Condition": "If-None-Match"})
            garbage = upsert_object(db, bucket, key, row)
        return garbage

    def delete_objects(self, bucket: str, keys: list[bytes]) -> list[str]:
        with self.writing() as db:
            require_bucket_in(db, bucket)
            garbage: list[str] = []
            for key in keys:
                found = db.execute(
                    "DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING blob",
                    (bucket, key),
                ).fetchone()
                if found is not None:
                    garbage.append(found[0])
        return garbage

    # ---- maintenance -------------------------------------------------------------

    def unreferenced(self, blobs: list[str]) -> list[str]:
        """Those of `blobs` that no object or part refers to."""
        used: set[str] = set()
        # Only "?" placeholders are interpolated; the names travel as parameters.
        marks = ",".join("?" * len(blobs))
        with self.reading() as db:
            for table in ("objects", "parts"):
                sql = f"SELECT blob FROM {table} WHERE blob IN ({marks})"  # noqa: S608
                used.update(column(db, sql, *blobs))
        return [b for b in blobs if b not in used]


# Helpers for the other modules that query the index inside its transactions.


def upsert_object(db: sqlite3.Connection, bucket: str, key: bytes, row: ObjectRow) -> list[str]:
    """Insert or replace an object row; returns the replaced row's blob, if any."""
    old = db.execute(
        "SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    db.execute(
        "INSERT OR REPLACE INTO objects "
        "(bucket, key, blob, size, etag, last_modified, metadata, parts_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bucket,
            key,
            row.blob,
            row.size,
            row.etag,
            row.last_modified,
            dump_metadata(row.metadata),
            row.parts_count,
        ),
    )
    return [] if old is None else [old[0]]


def dump_metadata(metadata: Metadata) -> str:
    return json.dumps(dict(metadata), ensure_ascii=False)


def exists(db: sqlite3.Connection, sql: str, *args: Any) -> bool:
    return db.execute(sql, args).fetchone() is not None


def column(db: sqlite3.Connection, sql: str, *args: Any) -> list[str]:
    return [r[0] for r in db.execute(sql, args)]


def require_bucket_in(db: sqlite3.Connection, bucket: str) -> None:
    if not exists(db, "SELECT 1 FROM buckets WHERE name = ?", bucket):
        raise errors.NoSuchBucket(extra={"BucketName": bucket})
