"""S3 calls of a multipart upload: create, parts, complete, abort, listings."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3.model import Metadata, PartsPage, PutResult, UploadsPage
from s3gate.upstream.base import Body
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.calls import Calls
from s3gate.upstream.s3.headers import stored_headers


class MultipartCalls(Calls):
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
