"""The embedded upstream: a persistent local directory that behaves like S3.

`LocalUpstream(root)` implements the `Upstream` protocol for `s3gate dev` /
`make run` and small single-node use, so nothing but the gateway is needed.
Keys never become file paths (any S3 key works: `..`, leading `/`, both `a`
and `a/b`, unicode): an SQLite index maps keys to immutable blob files with
random names. Writes are atomic and durable (temp file, fsync, rename, then
the index commit); a body iterator that fails stores nothing.

This module maps the protocol onto the package's other modules (the map is
in the package docstring, `upstream/local/__init__.py`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from s3gate import errors
from s3gate.s3.model import (
    BucketInfo,
    ByteRange,
    Conditions,
    CopyResult,
    DeleteOutcome,
    DeleteResult,
    ListPage,
    Metadata,
    ObjectHead,
    PartsPage,
    PutResult,
    UploadsPage,
    VersionsPage,
    check_conditions,
    resolve_range,
    write_conditions,
)
from s3gate.s3.tagging import TagSet
from s3gate.upstream.base import Body, ObjectStream
from s3gate.upstream.local import tags as local_tags
from s3gate.upstream.local.blobs import BlobReader, in_thread
from s3gate.upstream.local.index import Index, ObjectRow, to_datetime
from s3gate.upstream.local.listing import list_objects
from s3gate.upstream.local.multipart import Multipart
from s3gate.upstream.local.rules import (
    encode_key,
    page_size,
    quote_etag,
    utf8,
    validate_bucket_name,
)
from s3gate.upstream.local.store import Store
from s3gate.upstream.local.versions import current_only, only_part, versions_page

_NO_CONDITIONS = Conditions()
# How often copy_object re-reads a source that is replaced while being linked.
_COPY_ATTEMPTS = 20


def _now() -> int:
    return int(time.time())


class LocalUpstream:
    def __init__(self, root: Path) -> None:
        self._store = Store(Path(root))
        self._multipart = Multipart(self._store)

    # ---- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open or create the store; idempotent. Sweeps crash leftovers."""
        await self._store.start()

    async def close(self) -> None:
        await self._store.close()

    async def probe(self) -> None:
        if not self._store.started:
            raise errors.ServiceUnavailable("The local store is not started.")
        await self._store.probe()

    # ---- buckets -------------------------------------------------------------------

    async def list_buckets(self) -> list[BucketInfo]:
        rows = await self._store.db(Index.list_buckets)
        return [BucketInfo(name, to_datetime(created)) for name, created in rows]

    async def create_bucket(self, bucket: str) -> None:
        validate_bucket_name(bucket)
        await self._store.db(Index.create_bucket, bucket, _now())

    async def head_bucket(self, bucket: str) -> None:
        await self._store.db(Index.require_bucket, bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self._store.commit([], Index.delete_bucket, bucket)

    async def get_bucket_location(self, bucket: str) -> str:
        await self._store.db(Index.require_bucket, bucket)
        return ""  # S3's answer for the default region; the local store has no other

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        after: str | None = None,
    ) -> ListPage:
        return await self._store.db(
            list_objects,
            bucket,
            prefix=utf8(prefix, "prefix"),
            delimiter=utf8(delimiter, "delimiter") if delimiter else None,
            max_keys=page_size(max_keys, "max-keys"),
            after=utf8(after, "start-after") if after else None,
        )

    # ---- objects ------------------------------------------------------------------

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        metadata: Metadata,
        *,
        conditions: Conditions = _NO_CONDITIONS,
    ) -> PutResult:
        raw_key = encode_key(key)
        wanted = write_conditions(conditions)
        await self._store.db(Index.require_bucket, bucket)  # before reading a byte, as S3
        written = await self._store.blobs.write(body)
        row = ObjectRow(
            written.blob, written.size, quote_etag(written.md5_hex), _now(), dict(metadata)
        )
        # The condition is checked in the same transaction as the write.
        await self._store.commit([written.blob], Index.put_object, bucket, raw_key, row, wanted)
        return PutResult(etag=row.etag)

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: Conditions = _NO_CONDITIONS,
        *,
        checksum_mode: bool = False,  # the local store keeps no flexible checksums
        version_id: str | None = None,
        part_number: int | None = None,
    ) -> ObjectHead:
        current_only(version_id)
        row = await self._store.db(Index.lookup, bucket, encode_key(key))
        head = row.head()
        check_conditions(conditions, head.etag, head.last_modified)
        only_part(head, part_number)
        return head

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions = _NO_CONDITIONS,
        checksum_mode: bool = False,
        version_id: str | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        current_only(version_id)
        row, fd = await self._store.open_current(bucket, encode_key(key))
        try:
            head = row.head()
            # Preconditions come before the range (RFC 7233 §3.1): 304/412 beat 416.
            check_conditions(conditions, head.etag, head.last_modified)
            only_part(head, part_number)
            if part_number is not None and row.size:  # part 1 is the whole object, as S3
                byte_range = ByteRange(0, row.size - 1)
            span = None if byte_range is None else resolve_range(byte_range, row.size)
        except BaseException:
            os.close(fd)
            raise
        if span is None:
            reader = BlobReader(fd, 0, row.size)
            return ObjectStream(head, reader.chunks(), row.size, closer=reader.close)
        first, last = span
        reader = BlobReader(fd, first, last - first + 1)
        return ObjectStream(
            head,
            reader.chunks(),
            last - first + 1,
            content_range=f"bytes {first}-{last}/{row.size}",
            closer=reader.close,
        )

    async def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> DeleteResult:
        current_only(version_id)
        await self._store.commit([], Index.delete_objects, bucket, [encode_key(key)])
        return DeleteResult()

    async def delete_versions(
        self, bucket: str, items: list[tuple[str, str | None]]
    ) -> list[DeleteOutcome]:
        """Only the `null` version exists: deleting it deletes the object."""
        out: list[DeleteOutcome] = []
        for key, vid in items:
            try:
                await self.delete_object(bucket, key, version_id=vid)
            except errors.S3Error as exc:
                out.append(DeleteOutcome(key, exc.error_code, exc.message, vid))
            else:
                out.append(DeleteOutcome(key, version_id=vid))
        return out

    # ---- versions: none kept (docs/s3-compatibility.md) ------------------------------

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        await self._store.db(Index.require_bucket, bucket)
        return None

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        await self._store.db(Index.require_bucket, bucket)
        if status != "Suspended":  # suspending versions never enabled changes nothing
            raise errors.NotImplementedError_(
                "The local directory store does not keep object versions"
            )

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
    ) -> VersionsPage:
        page = await self.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys, after=key_marker
        )
        return versions_page(page)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteOutcome]:
        outcomes: list[DeleteOutcome] = []
        valid: list[bytes] = []
        for key in keys:
            try:
                valid.append(encode_key(key))
            except errors.S3Error as exc:
                outcomes.append(DeleteOutcome(key, exc.error_code, exc.message))
            else:
                outcomes.append(DeleteOutcome(key))
        await self._store.commit([], Index.delete_objects, bucket, valid)
        return outcomes

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        metadata: Metadata | None = None,
        conditions: Conditions = _NO_CONDITIONS,
        src_version_id: str | None = None,
    ) -> CopyResult:
        current_only(src_version_id)
        raw_src, raw_key = encode_key(src_key), encode_key(key)
        await self._store.db(Index.require_bucket, bucket)
        blobs = self._store.blobs
        for _ in range(_COPY_ATTEMPTS):
            source = await self._store.db(Index.lookup, src_bucket, raw_src)
            check_conditions(
                conditions, source.etag, to_datetime(source.last_modified), for_copy=True
            )
            if (src_bucket, raw_src) == (bucket, raw_key) and metadata is None:
                raise errors.InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes."
                )
            try:
                blob = await in_thread(
                    blobs.clone, source.blob, discard=lambda b: blobs.remove([b])
                )
            except FileNotFoundError:
                continue  # the source was replaced after the lookup: read it again
            break
        else:
            raise errors.InternalError("The copy source keeps changing or is missing its data.")
        row = ObjectRow(
            blob=blob,
            size=source.size,
            etag=source.etag,
            last_modified=_now(),
            metadata=dict(source.metadata if metadata is None else metadata),
            parts_count=source.parts_count,
        )
        await self._store.commit([blob], Index.put_object, bucket, raw_key, row)
        return CopyResult(etag=row.etag, last_modified=to_datetime(row.last_modified))

    # ---- multipart uploads ------------------------------------------------------------

    async def create_multipart_upload(self, bucket: str, key: str, metadata: Metadata) -> str:
        return await self._multipart.create(bucket, key, metadata)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        return await self._multipart.upload_part(bucket, key, upload_id, part_number, body)

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        return await self._multipart.complete(bucket, key, upload_id, parts)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self._multipart.abort(bucket, key, upload_id)

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage:
        return await self._multipart.list_parts(
            bucket, key, upload_id, max_parts=max_parts, part_number_marker=part_number_marker
        )

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_uploads: int = 1000,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
    ) -> UploadsPage:
        return await self._multipart.list_uploads(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_uploads=max_uploads,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
        )

    # ---- tags -------------------------------------------------------------------------

    # The index keeps no bucket-level rows beyond the bucket itself.
    async def get_bucket_tagging(self, bucket: str) -> TagSet:
        raise errors.NotImplementedError_("The local store keeps no bucket tags")

    async def put_bucket_tagging(self, bucket: str, tags: TagSet) -> None:
        raise errors.NotImplementedError_("The local store keeps no bucket tags")

    async def delete_bucket_tagging(self, bucket: str) -> None:
        raise errors.NotImplementedError_("The local store keeps no bucket tags")

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> TagSet:
        current_only(version_id)
        row = await self._store.db(Index.lookup, bucket, encode_key(key))
        return local_tags.read(row.metadata)

    async def put_object_tagging(self, bucket: str, key: str, tags: TagSet) -> None:
        await self._store.commit([], local_tags.replace, bucket, encode_key(key), tags)

    async def delete_object_tagging(self, bucket: str, key: str) -> None:
        await self._store.commit([], local_tags.replace, bucket, encode_key(key), ())
