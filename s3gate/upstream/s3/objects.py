"""S3 calls on one object: put, head, get, copy, and its tags."""

from __future__ import annotations

from urllib.parse import quote

from s3gate import errors
from s3gate.s3 import tagxml
from s3gate.s3.model import (
    ByteRange,
    Conditions,
    CopyResult,
    Metadata,
    ObjectHead,
    PutResult,
    write_conditions,
)
from s3gate.s3.tagging import TagSet
from s3gate.upstream.base import Body, ObjectStream
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.calls import NO_CONDITIONS, Calls, version_query
from s3gate.upstream.s3.headers import condition_headers, object_head, stored_headers
from s3gate.upstream.s3.http import content_length, finish, raise_for, stream_body


def _object_query(version_id: str | None, part_number: int | None) -> list[tuple[str, str | None]]:
    query = list(version_query(version_id))
    if part_number is not None:
        query.append(("partNumber", str(part_number)))
    return query


class ObjectCalls(Calls):
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
        part_number: int | None = None,
    ) -> ObjectHead:
        headers = condition_headers(conditions)
        if checksum_mode:
            headers["x-amz-checksum-mode"] = "ENABLED"
        resp = await self._http.send(
            "HEAD", bucket, key, query=_object_query(version_id, part_number), headers=headers
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
        part_number: int | None = None,
    ) -> ObjectStream:
        headers = condition_headers(conditions)
        if checksum_mode:
            headers["x-amz-checksum-mode"] = "ENABLED"
        if byte_range is not None:
            headers["Range"] = byte_range.header()
        resp = await self._http.send(
            "GET", bucket, key, query=_object_query(version_id, part_number), headers=headers
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

    # Tags.

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> TagSet:
        query: list[tuple[str, str | None]] = [("tagging", None), *version_query(version_id)]
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
