"""S3 calls that delete objects: one key or version, and batches of them."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3.model import DeleteOutcome, DeleteResult
from s3gate.upstream.s3 import versions as s3versions
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.calls import Calls, version_query

# S3 takes at most 1000 keys per DeleteObjects call.
DELETE_BATCH = 1000


class DeleteCalls(Calls):
    async def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> DeleteResult:
        resp = await self._http.send("DELETE", bucket, key, query=version_query(version_id))
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
