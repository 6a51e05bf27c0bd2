"""The contract between the gateway and the object store behind it.

Handlers speak to an `Upstream` in typed values, never in upstream XML, so that
the S3 front end (rendering, pagination tokens, policy filtering, masking) is
the same whatever store is behind: a real S3 endpoint (`upstream/s3/`) or the
embedded local directory (`upstream/local/`).

Body contract, for every method that takes `body`: the upstream consumes the
async iterator and must store *nothing* if the iterator raises before it is
exhausted (the S3 client aborts the connection before the declared length is
sent; the local store removes its temporary file). Verification of the client's
signature and checksums happens inside the iterator, which withholds the final
bytes until everything checks out. Errors are `s3gate.errors.S3Error`s:
upstream S3 error codes pass through, an unreachable upstream is
`ServiceUnavailable`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

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
)
from s3gate.s3.tagging import TagSet


class ObjectStream:
    """An open GET: head of the whole object plus the (possibly ranged) body.

    The body must be consumed or `aclose()`d; it releases the connection/file."""

    def __init__(
        self,
        head: ObjectHead,
        body: AsyncIterator[bytes],
        content_length: int,
        content_range: str | None = None,
        closer: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.head = head
        self.body = body
        self.content_length = content_length
        self.content_range = content_range  # "bytes a-b/total" when ranged
        self._closer = closer

    @property
    def status(self) -> int:
        return 206 if self.content_range else 200

    async def aclose(self) -> None:
        aclose = getattr(self.body, "aclose", None)
        if aclose is not None:
            await aclose()
        closer, self._closer = self._closer, None
        if closer is not None:
            await closer()


@dataclass(frozen=True)
class Body:
    """A request body on its way upstream.

    `length` is the exact number of bytes the iterator yields. `sha256_hex` and
    `content_md5` (base64) are given when known in advance (small, buffered
    bodies): the S3 upstream then signs/sends them so the store checks them too.
    """

    chunks: AsyncIterator[bytes]
    length: int
    sha256_hex: str | None = None
    content_md5: str | None = None
    # (algorithm, base64) of these exact bytes, sent as x-amz-checksum-<alg> so
    # the store verifies and keeps it (returned by HEAD/GET in checksum mode).
    checksum: tuple[str, str] | None = None

    @classmethod
    def of(cls, data: bytes) -> Body:
        """A body already in memory, with its SHA-256 and MD5 so that the
        store checks the bytes it receives."""
        md5 = hashlib.md5(data).digest()  # noqa: S324 - Content-MD5 is what S3 checks
        return cls(
            _yield(data),
            len(data),
            sha256_hex=hashlib.sha256(data).hexdigest(),
            content_md5=base64.b64encode(md5).decode(),
        )


async def _yield(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Upstream(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def probe(self) -> None:
        """Raise ServiceUnavailable when the store cannot be reached."""

    async def list_buckets(self) -> list[BucketInfo]: ...

    async def create_bucket(self, bucket: str) -> None: ...

    async def head_bucket(self, bucket: str) -> None: ...

    async def delete_bucket(self, bucket: str) -> None: ...

    async def get_bucket_location(self, bucket: str) -> str: ...

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        after: str | None = None,
    ) -> ListPage:
        """Keys > `after` (exclusive) under `prefix`, in UTF-8 byte order.

        With a delimiter, keys sharing the part of the key after `prefix` up to
        the first delimiter are rolled into one common prefix, which counts as
        one entry towards `max_keys`. When `after` is itself a rolled-up common
        prefix (it contains the delimiter past `prefix`), every key under it is
        skipped."""
        ...

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        metadata: Metadata,
        *,
        conditions: Conditions = Conditions(),
    ) -> PutResult:
        """A conditional write when `conditions` has `if_none_match="*"`
        (create only) or `if_match` (replace only that ETag): otherwise
        PreconditionFailed and nothing changes. Other conditions are not
        supported on writes. The gateway's approvals use this as
        compare-and-swap; clients' conditional PUT headers are not forwarded."""
        ...

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: Conditions = Conditions(),
        *,
        checksum_mode: bool = False,
        version_id: str | None = None,
        part_number: int | None = None,
    ) -> ObjectHead:
        """`part_number`: the head of that part of the object (its size the
        part's); a non-multipart object has one part."""
        ...

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions = Conditions(),
        checksum_mode: bool = False,
        version_id: str | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        """Conditions are evaluated as S3 does (NotModified / PreconditionFailed);
        an unsatisfiable range raises InvalidRange. `part_number` (never with
        `byte_range`) reads that part of a multipart object, ranged as S3
        answers it; a part past the object's is InvalidPartNumber."""
        ...

    async def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> DeleteResult:
        """Without `version_id` on a versioned bucket this adds a delete
        marker (the bytes stay); with one it removes that version."""
        ...

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteOutcome]: ...

    async def delete_versions(
        self, bucket: str, items: list[tuple[str, str | None]]
    ) -> list[DeleteOutcome]:
        """DeleteObjects naming (key, version id or None) pairs, in order."""
        ...

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        """`Enabled`, `Suspended` or None (never configured)."""
        ...

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        """The local store refuses "Enabled" (NotImplemented)."""
        ...

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
        """Versions and delete markers after (key_marker, version_id_marker)
        — after every version of key_marker without a version marker — in
        S3's order: keys in UTF-8 byte order, each key's versions newest first."""
        ...

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        metadata: Metadata | None = None,
        conditions: Conditions = Conditions(),
        src_version_id: str | None = None,
    ) -> CopyResult:
        """`metadata` None copies the source's metadata (COPY directive);
        otherwise it replaces it (REPLACE). `conditions` apply to the source."""
        ...

    async def create_multipart_upload(self, bucket: str, key: str, metadata: Metadata) -> str: ...

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        """Returns the part's quoted ETag."""
        ...

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult: ...

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None: ...

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage: ...

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_uploads: int = 1000,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
    ) -> UploadsPage: ...

    # Object tags (the S3 upstream's ?tagging; the local store keeps them
    # with the object's metadata). NoSuchKey when the object is missing.

    async def get_bucket_tagging(self, bucket: str) -> TagSet:
        """The bucket's tags; a bucket without any is the store's NoSuchTagSet."""
        ...

    async def put_bucket_tagging(self, bucket: str, tags: TagSet) -> None: ...

    async def delete_bucket_tagging(self, bucket: str) -> None: ...

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> TagSet: ...

    async def put_object_tagging(self, bucket: str, key: str, tags: TagSet) -> None: ...

    async def delete_object_tagging(self, bucket: str, key: str) -> None: ...
