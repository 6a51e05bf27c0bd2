"""Object tags in the local store: kept, as S3 takes them on PutObject, in
the object's stored `x-amz-tagging` value (the index's metadata column), so
that a copy, a multipart upload and a tagging call all agree on one place."""

from __future__ import annotations

import json

from s3gate import errors
from s3gate.s3 import tagging
from s3gate.s3.tagging import TagSet
from s3gate.upstream.local.index import Index, dump_metadata, require_bucket_in


def read(metadata: dict[str, str]) -> TagSet:
    return tagging.parse_header(metadata.get(tagging.HEADER, ""))


def replace(index: Index, bucket: str, key: bytes, tags: TagSet) -> list[str]:
    """Set the object's tags (none: remove them), in one transaction; no
    blob is unreferenced (the `Store.commit` contract)."""
    with index.writing() as db:
        require_bucket_in(db, bucket)
        row = db.execute(
            "SELECT metadata FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if row is None:
            raise errors.NoSuchKey(extra={"Key": key.decode()})
        metadata = json.loads(row[0])
        if tags:
            metadata[tagging.HEADER] = tagging.header_value(tags)
        else:
            metadata.pop(tagging.HEADER, None)
        db.execute(
            "UPDATE objects SET metadata = ? WHERE bucket = ? AND key = ?",
            (dump_metadata(metadata), bucket, key),
        )
    return []
