"""Multipart uploads of the local store, with S3's validation rules.

Parts are ordinary blobs referenced from the `parts` table, so staging, abort
and crash recovery reuse the blob machinery. Completing claims the upload
first (its parts can no longer change), validates the requested list, streams
the parts into one new blob, then commits the object and drops the upload in
one transaction.
"""

from __future__ import annotations

import itertools
import secrets
import time

from s3gate import errors
from s3gate.s3.model import Metadata, PartsPage, PutResult, UploadsPage, bare_etag
from s3gate.upstream.base import Body
from s3gate.upstream.local import uploads
from s3gate.upstream.local.index import ObjectRow
from s3gate.upstream.local.listing import list_parts, list_uploads
from s3gate.upstream.local.rules import (
    encode_key,
    multipart_etag,
    page_size,
    quote_etag,
    utf8,
)
from s3gate.upstream.local.store import Store
from s3gate.upstream.local.uploads import PartRow

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000


def new_upload_id() -> str:
    # Time first, so that ids sort in creation order: S3 lists one key's uploads
    # by initiation, and the index lists them by id. The random half makes it
    # unguessable.
    return f"{time.time_ns():016x}{secrets.token_hex(16)}"


def select_parts(
    upload_id: str, requested: list[tuple[int, str]], stored: dict[int, PartRow]
) -> list[PartRow]:
    """The stored parts a CompleteMultipartUpload names, checked as S3 checks them."""
    if not requested:
        raise errors.MalformedXML()  # what S3 answers a completion without parts
    numbers = [n for n, _ in requested]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        raise errors.InvalidPartOrder(extra={"UploadId": upload_id})
    chosen: list[PartRow] = []
    for number, etag in requested:
        part = stored.get(number)
        if part is None or bare_etag(part.etag) != bare_etag(etag):
            raise errors.InvalidPart(
                extra={"UploadId": upload_id, "PartNumber": str(number), "ETag": etag}
            )
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise errors.EntityTooSmall(
                extra={
                    "ProposedSize": str(part.size),
                    "MinSizeAllowed": str(MIN_PART_SIZE),
                    "PartNumber": str(part.part_number),
                    "ETag": part.etag,
                }
            )
    return chosen


class Multipart:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, bucket: str, key: str, metadata: Metadata) -> str:
        upload_id = new_upload_id()
        await self._store.db(
            uploads.create_upload, bucket, encode_key(key), upload_id, int(time.time()), metadata
        )
        return upload_id

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        raw_key = encode_key(key)
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise errors.InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                extra={"ArgumentName": "partNumber", "ArgumentValue": str(part_number)},
            )
        # Refuse before reading a byte, then check again when committing (an
        # abort may come while the body streams in).
        await self._store.db(uploads.require_upload, bucket, raw_key, upload_id)
        written = await self._store.blobs.write(body)
        etag = quote_etag(written.md5_hex)
        part = PartRow(part_number, written.blob, written.size, etag, int(time.time()))
        await self._store.commit([written.blob], uploads.put_part, bucket, raw_key, upload_id, part)
        return etag

    async def complete(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        raw_key = encode_key(key)
        upload, stored = await self._store.db(uploads.claim_upload, bucket, raw_key, upload_id)
        try:
            chosen = select_parts(upload_id, parts, stored)
            written = await self._store.blobs.concat([p.blob for p in chosen])
            row = ObjectRow(
                blob=written.blob,
                size=written.size,
                etag=multipart_etag([p.etag for p in chosen]),
                last_modified=int(time.time()),
                metadata=upload.metadata,
                parts_count=len(chosen),
            )
            await self._store.commit(
                [written.blob], uploads.finish_upload, bucket, raw_key, upload_id, row
            )
        except BaseException:
            # The upload stays open for a corrected retry, as on S3 (a no-op when
            # the commit did happen and the upload is gone).
            await self._store.db(uploads.release_upload, upload_id)
            raise
        return PutResult(etag=row.etag)

    async def abort(self, bucket: str, key: str, upload_id: str) -> None:
        await self._store.commit([], uploads.abort_upload, bucket, encode_key(key), upload_id)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, *, max_parts: int, part_number_marker: int
    ) -> PartsPage:
        if part_number_marker < 0:
            raise errors.InvalidArgument(
                "part-number-marker must be a non-negative integer.",
                extra={"ArgumentName": "part-number-marker"},
            )
        return await self._store.db(
            list_parts,
            bucket,
            encode_key(key),
            upload_id,
            max_parts=page_size(max_parts, "max-parts"),
            marker=part_number_marker,
        )

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str | None,
        max_uploads: int,
        key_marker: str | None,
        upload_id_marker: str | None,
    ) -> UploadsPage:
        return await self._store.db(
            list_uploads,
            bucket,
            prefix=utf8(prefix, "prefix"),
            delimiter=utf8(delimiter, "delimiter") if delimiter else None,
            max_uploads=page_size(max_uploads, "max-uploads"),
            key_marker=utf8(key_marker, "key-marker") if key_marker else None,
            upload_id_marker=upload_id_marker or None,
        )
