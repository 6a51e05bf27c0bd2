"""S3 calls on buckets: create, head, delete, location, versioning, tags."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3 import tagxml
from s3gate.s3.model import BucketInfo
from s3gate.s3.tagging import TagSet
from s3gate.upstream.s3 import versions as s3versions
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.calls import Calls


class BucketCalls(Calls):
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

    async def get_bucket_tagging(self, bucket: str) -> TagSet:
        resp = await self._http.send("GET", bucket, query=[("tagging", None)])
        return tagxml.parse_xml(await self._http.xml(resp, errors.NoSuchBucket), checked=False)

    async def put_bucket_tagging(self, bucket: str, tags: TagSet) -> None:
        resp = await self._http.send(
            "PUT", bucket, query=[("tagging", None)], body=tagxml.document(tags)
        )
        await self._http.done(resp, errors.NoSuchBucket)

    async def delete_bucket_tagging(self, bucket: str) -> None:
        resp = await self._http.send("DELETE", bucket, query=[("tagging", None)])
        await self._http.done(resp, errors.NoSuchBucket)
