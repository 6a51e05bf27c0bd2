"""`Upstream` over a real S3 endpoint (AWS, MinIO, Ceph RGW, moto …).

Each method is one S3 call: build the request (`addressing`), sign and send
it (`signer`, `http`), turn the answer into the typed values of `s3.model`
(`xml`, `versions`, `headers`). Request and response bodies stream; only XML is buffered, and
only up to a limit.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import aiohttp

from s3gate import errors
from s3gate.s3 import tagxml
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
    write_conditions,
)
from s3gate.s3.tagging import TagSet
from s3gate.upstream.base import Body, ObjectStream
from s3gate.upstream.s3 import versions as s3versions
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.headers import condition_headers, object_head, stored_headers
from s3gate.upstream.s3.http import Transport, content_length, finish, raise_for, stream_body
from s3gate.upstream.s3.signer import Signer
from s3gate.upstream.settings import UpstreamSettings

# S3 takes at most 1000 keys per DeleteObjects call.
DELETE_BATCH = 1000
# The largest code point: `P + MAX_CHAR` sorts after every key under the
# common prefix P that a real store holds (see `_start_after`).
MAX_CHAR = "\U0010ffff"
NO_CONDITIONS = Conditions()


def _start_after(
    prefix: str, delimiter: str | None, after: str | None
) -> tuple[str | None, str | None]:
    """(start-after to send, common prefix to skip).

    S3 applies start-after to keys before rolling them up, so resuming after a
    common prefix P with start-after=P would list P's keys again and return P
    once more. Every key under P sorts before P + U+10FFFF (the largest code
    point; UTF-8 byte order is code point order), so that is sent instead. The
    only keys that could sort after it continue P with U+10FFFF itself, a
    noncharacter; should a store hold one, P would be echoed, and the parser
    drops an echoed P."""
    if after is None or not delimiter or not after.startswith(prefix):
        return after, None
    cut = after.find(delimiter, len(prefix))
    if cut < 0:
        return after, None
    rolled = after[: cut + len(delimiter)]
    return rolled + MAX_CHAR, rolled


def _version(version_id: str | None) -> list[tuple[str, str | None]]:
    return [] if version_id is None else [("versionId", version_id)]


class S3Upstream:
    """The gateway's client for a real S3 store."""

    def __init__(
        self,
        settings: UpstreamSettings,
        *,
        signer: Signer | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        """`signer` replaces the one built from settings (tests, custom
        credential providers); `trace_configs` lets metrics and tests observe
        the connection pool."""
        self._settings = settings
        self._http = Transport(settings, signer, trace_configs)

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def probe(self) -> None:
        """ListBuckets with a short timeout: it proves endpoint and
        credentials. Being refused the listing (AccessDenied) or being asked
        to slow down still proves the store is up; a 5xx does not; a
        credential or signature error is raised as is, since retrying will
        not mend it."""
        resp = await self._http.send("GET", None, timeout=self._settings.connect_timeout_seconds)
        try:
            await raise_for(resp)
        except (errors.AccessDenied, errors.SlowDown):
            return
        except errors.S3Error as exc:
            if exc.http_status >= 500:
                raise errors.ServiceUnavailable(
                    f"The upstream store is unhealthy: {exc.error_code}"
                ) from exc
            raise
        finally:
            finish(resp)  # the listing itself is not needed

    # Buckets.

    async def list_buckets(self) -> list[BucketInfo]:
        return s3xml.parse_list_buckets(await self._http.xml(await self._http.send("GET", None)))

    async def create_bucket(self, bucket: str) -> None:
        body = s3xml.build_create_bucket(self._settings.region)
        resp = await self._http.send("PUT", bucket, body=body)
        await self._http.done(resp, errors.NoSuchBucket)

    async def head_bucket(self, bucket: str) -> None:
        resp = await self._http.send("HEAD", bucket)
        await self._http.done(resp, errors.NoSuchBucket)

    async def delete_bucket(self, bucket: str) -> None:
        resp = await self._http.send("DELETE", bucket)
        await self._http.done(resp, errors.NoSuchBucket)

    async def get_bucket_location(self, bucket: str) -> str:
        resp = await self._http.send("GET", bucket, query=[("location", None)])
        return s3xml.parse_location(await self._http.xml(resp, errors.NoSuchBucket))

    # Listing.

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        after: str | None = None,
    ) -> ListPage:
        start_after, skip = _start_after(prefix, delimiter, after)
        query: list[tuple[str, str | None]] = [
            ("list-type", "2"),
            ("encoding-type", "url"),
            ("max-keys", str(max_keys)),
            ("prefix", prefix),
        ]
        if delimiter:
            query.append(("delimiter", delimiter))
        if start_after:
            query.append(("start-after", start_after))
        resp = await self._http.send("GET", bucket, query=query)
        return s3xml.parse_list_objects_v2(await self._http.xml(resp, errors.NoSuchBucket), skip)

    # Objects.

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        metadata: Metadata,
        *,
        conditions: Conditions = NO_CONDITIONS,
    ) -> PutResult:
        headers = stored_headers(metadata)
        headers.update(condition_headers(write_conditions(conditions)))
        resp = await self._http.send("PUT", bucket, key, headers=headers, body=body)
        await self._http.done(resp, errors.NoSuchBucket, upload=True)
        return PutResult(
            s3xml.quoted_etag(resp.headers.get("ETag", "")), resp.headers.get("x-amz-version-id")
        )

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: Conditions = NO_CONDITIONS,
        *,
        checksum_mode: bool = False,
        version_id: str | None = None,
    ) -> ObjectHead:
        headers = condition_headers(conditions)
        if checksum_mode:
            headers["x-amz-checksum-mode"] = "ENABLED"
        resp = await self._http.send(
            "HEAD", bucket, key, query=_version(version_id), headers=headers
        )
        await self._http.done(resp, errors.NoSuchKey)
        return object_head(resp, content_length(resp))

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions = NO_CONDITIONS,
        checksum_mode: bool = False,
        version_id: str | None = None,
    ) -> ObjectStream:
        headers = condition_headers(conditions)
        if checksum_mode:
            headers["x-amz-checksum-mode"] = "ENABLED"
        if byte_range is not None:
            headers["Range"] = byte_range.header()
        resp = await self._http.send(
            "GET", bucket, key, query=_version(version_id), headers=headers
        )
        await raise_for(resp, errors.NoSuchKey)
        length = content_length(resp)
        content_range = resp.headers.get("Content-Range") if resp.status == 206 else None
        size = length
        if content_range:
            total = content_range.rpartition("/")[2]
            if not total.isdigit():
                finish(resp)
                raise errors.InternalError("The upstream store sent an unknown object size")
            size = int(total)

        async def closer() -> None:
            finish(resp)

        return ObjectStream(
            object_head(resp, size), stream_body(resp), length, content_range, closer
        )

    async def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> DeleteResult:
        resp = await self._http.send("DELETE", bucket, key, query=_version(version_id))
        await self._http.done(resp, errors.NoSuchBucket)
        return DeleteResult(
            resp.headers.get("x-amz-version-id"),
            resp.headers.get("x-amz-delete-marker", "").lower() == "true",
        )

    async def delete_versions(
        self, bucket: str, items: list[tuple[str, str | None]]
    ) -> list[DeleteOutcome]:
        outcomes: dict[tuple[str, str | None], DeleteOutcome] = {}
        # A key XML 1.0 cannot carry cannot be named in a DeleteObjects body.
        for key, vid in {i for i in items if not s3xml.xml_safe(i[0])}:
            try:
                done = await self.delete_object(bucket, key, version_id=vid)
                outcomes[(key, vid)] = DeleteOutcome(
                    key,
                    version_id=vid,
                    delete_marker=done.delete_marker,
                    delete_marker_version_id=done.version_id if done.delete_marker else None,
                )
            except errors.S3Error as exc:
                outcomes[(key, vid)] = DeleteOutcome(key, exc.error_code, exc.message, vid)
        batchable = list(dict.fromkeys(i for i in items if i not in outcomes))
        for n in range(0, len(batchable), DELETE_BATCH):
            batch = batchable[n : n + DELETE_BATCH]
            resp = await self._http.send(
                "POST",
                bucket,
                query=[("delete", None)],
                body=s3versions.build_delete_versions(batch),
            )
            body = await self._http.xml(resp, errors.NoSuchBucket)
            for item, outcome in zip(
                batch, s3versions.parse_delete_versions(body, batch), strict=True
            ):
                outcomes[item] = outcome
        return [outcomes[i] for i in items]

    # Versions.

    async def get_bucket_versioning(self, bucket: str) -> str | None:
        resp = await self._http.send("GET", bucket, query=[("versioning", None)])
        return s3versions.parse_versioning(await self._http.xml(resp, errors.NoSuchBucket))

    async def put_bucket_versioning(self, bucket: str, status: str) -> None:
        resp = await self._http.send(
            "PUT",
            bucket,
            query=[("versioning", None)],
            body=s3versions.build_versioning(status),
        )
        await self._http.done(resp, errors.NoSuchBucket)

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
        # Resuming after a rolled-up common prefix: as for list_objects.
        key_marker, skip = _start_after(prefix, delimiter, key_marker)
        query: list[tuple[str, str | None]] = [
            ("versions", None),
            ("encoding-type", "url"),
            ("max-keys", str(max_keys)),
            ("prefix", prefix),
        ]
        if delimiter:
            query.append(("delimiter", delimiter))
        if key_marker:
            query.append(("key-marker", key_marker))
            if version_id_marker and skip is None:
                query.append(("version-id-marker", version_id_marker))
        resp = await self._http.send("GET", bucket, query=query)
        page = s3versions.parse_list_versions(await self._http.xml(resp, errors.NoSuchBucket))
        if skip is not None and skip in page.common_prefixes:
            page = replace(page, common_prefixes=[p for p in page.common_prefixes if p != skip])
        return page

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteOutcome]:
        outcomes: dict[str, DeleteOutcome] = {}
        # A key XML 1.0 cannot carry cannot be named in a DeleteObjects body.
        for key in {k for k in keys if not s3xml.xml_safe(k)}:
            try:
                await self.delete_object(bucket, key)
                outcomes[key] = DeleteOutcome(key)
            except errors.S3Error as exc:
                outcomes[key] = DeleteOutcome(key, exc.error_code, exc.message)
        batchable = list(dict.fromkeys(k for k in keys if k not in outcomes))
        for i in range(0, len(batchable), DELETE_BATCH):
            batch = batchable[i : i + DELETE_BATCH]
            resp = await self._http.send(
                "POST", bucket, query=[("delete", None)], body=s3xml.build_delete(batch)
            )
            body = await self._http.xml(resp, errors.NoSuchBucket)
            for outcome in s3xml.parse_delete_result(body, batch):
                outcomes[outcome.key] = outcome
        return [outcomes[k] for k in keys]

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        metadata: Metadata | None = None,
        conditions: Conditions = NO_CONDITIONS,
        src_version_id: str | None = None,
    ) -> CopyResult:
        headers = condition_headers(conditions, "x-amz-copy-source-")
        source = quote(f"{src_bucket}/{src_key}", safe="/~")
        if src_version_id is not None:
            source += "?versionId=" + quote(src_version_id, safe="")
        headers["x-amz-copy-source"] = source
        if metadata is None:
            headers["x-amz-metadata-directive"] = "COPY"
        else:
            headers.update(stored_headers(metadata))
            headers["x-amz-metadata-directive"] = "REPLACE"
            if "x-amz-tagging" in headers:
                headers["x-amz-tagging-directive"] = "REPLACE"
        resp = await self._http.send("PUT", bucket, key, headers=headers)
        return s3xml.parse_copy(
            await self._http.xml(resp, errors.NoSuchKey), resp.headers.get("x-amz-version-id")
        )

    # Multipart.

    async def create_multipart_upload(self, bucket: str, key: str, metadata: Metadata) -> str:
        resp = await self._http.send(
            "POST", bucket, key, query=[("uploads", None)], headers=stored_headers(metadata)
        )
        return s3xml.parse_upload_id(await self._http.xml(resp, errors.NoSuchBucket))

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        query = [("partNumber", str(part_number)), ("uploadId", upload_id)]
        resp = await self._http.send("PUT", bucket, key, query=query, body=body)
        await self._http.done(resp, errors.NoSuchUpload, upload=True)
        return s3xml.quoted_etag(resp.headers.get("ETag", ""))

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        resp = await self._http.send(
            "POST",
            bucket,
            key,
            query=[("uploadId", upload_id)],
            body=s3xml.build_complete(parts),
        )
        return s3xml.parse_complete(
            await self._http.xml(resp, errors.NoSuchUpload), resp.headers.get("x-amz-version-id")
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        resp = await self._http.send("DELETE", bucket, key, query=[("uploadId", upload_id)])
        await self._http.done(resp, errors.NoSuchUpload)

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage:
        query: list[tuple[str, str | None]] = [
            ("uploadId", upload_id),
            ("max-parts", str(max_parts)),
        ]
        if part_number_marker:
            query.append(("part-number-marker", str(part_number_marker)))
        resp = await self._http.send("GET", bucket, key, query=query)
        return s3xml.parse_list_parts(await self._http.xml(resp, errors.NoSuchUpload))

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
        query: list[tuple[str, str | None]] = [
            ("uploads", None),
            ("encoding-type", "url"),
            ("max-uploads", str(max_uploads)),
            ("prefix", prefix),
        ]
        if delimiter:
            query.append(("delimiter", delimiter))
        if key_marker:
            query.append(("key-marker", key_marker))
            if upload_id_marker:
                query.append(("upload-id-marker", upload_id_marker))
        resp = await self._http.send("GET", bucket, query=query)
        return s3xml.parse_list_uploads(await self._http.xml(resp, errors.NoSuchBucket))

    # Tags.

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> TagSet:
        query: list[tuple[str, str | None]] = [("tagging", None), *_version(version_id)]
        resp = await self._http.send("GET", bucket, key, query=query)
        return tagxml.parse_xml(await self._http.xml(resp, errors.NoSuchKey), checked=False)

    async def put_object_tagging(self, bucket: str, key: str, tags: TagSet) -> None:
        resp = await self._http.send(
            "PUT", bucket, key, query=[("tagging", None)], body=tagxml.document(tags)
        )
        await self._http.done(resp, errors.NoSuchKey)

    async def delete_object_tagging(self, bucket: str, key: str) -> None:
        resp = await self._http.send("DELETE", bucket, key, query=[("tagging", None)])
        await self._http.done(resp, errors.NoSuchKey)
