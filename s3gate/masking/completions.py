"""Completion of a staged upload: exactly one replica masks it, every
Complete gets the same answer.

Completion is claimed with a conditional write (`If-None-Match: *`) of the
next `lease-NNNNN` in the upload's folder (`stagedparts`): of the replicas
that try, exactly one creates it. The holder renews its lease while it
works; a lease past its expiry (its replica died) is taken over by creating
the next number. The outcome is written to `done` (also conditionally),
which every other Complete of the upload — on any replica — waits for and
returns; `done` outlives the parts until the expiry so that a Complete
retried after success gets the same answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping

from s3gate import errors
from s3gate.masking.stagedparts import StagedUpload
from s3gate.s3.model import Conditions
from s3gate.upstream.base import Body, Upstream
from s3gate.upstream.purge import purge

log = logging.getLogger("s3gate.masking")

_CREATE = Conditions(if_none_match="*")  # If-None-Match: * (create only)


class CompletionClaims:
    def __init__(self, lease_seconds: float = 60.0) -> None:
        self.lease_seconds = lease_seconds
        # Completions running in this process, by staging id: a second
        # Complete of the same upload here awaits the same task.
        self.running: dict[str, asyncio.Task[dict[str, object]]] = {}

    async def claim(self, upstream: Upstream, upload: StagedUpload, owner: str) -> int | None:
        """The lease number this caller now holds, or None while another holder's
        lease is live."""
        newest = await self._newest_lease(upstream, upload)
        if newest is not None:
            number, expires = newest
            if expires > time.time():
                return None
            number += 1
        else:
            number = 0
        try:
            await self._put_lease(upstream, upload, number, owner, create_only=True)
        except errors.PreconditionFailed:
            return None  # another caller took this number first
        return number

    async def renew(
        self, upstream: Upstream, upload: StagedUpload, number: int, owner: str
    ) -> None:
        await self._put_lease(upstream, upload, number, owner, create_only=False)

    async def release(self, upstream: Upstream, upload: StagedUpload, number: int) -> None:
        """Give the claim up without an outcome (a retryable failure)."""
        await purge(upstream, upload.bucket, [f"{upload.folder}lease-{number:05d}"])

    async def record_outcome(
        self, upstream: Upstream, upload: StagedUpload, outcome: Mapping[str, object]
    ) -> None:
        data = json.dumps(dict(outcome)).encode()
        try:
            await upstream.put_object(
                upload.bucket,
                upload.folder + "done",
                Body.of(data),
                {},
                conditions=Conditions(if_none_match="*"),
            )
        except errors.PreconditionFailed:
            # A holder presumed dead finished after all; the first outcome stands.
            log.warning("staged upload %s completed twice", upload.staging_id)

    async def outcome(self, upstream: Upstream, upload: StagedUpload) -> dict[str, object] | None:
        try:
            stream = await upstream.get_object(upload.bucket, upload.folder + "done")
        except errors.NoSuchKey:
            return None
        try:
            data = b"".join([piece async for piece in stream.body])
        finally:
            await stream.aclose()
        found = json.loads(data)
        return dict(found) if isinstance(found, dict) else None

    async def discard_parts(self, upstream: Upstream, upload: StagedUpload) -> None:
        """Everything but `done`: the upload is finished, its answer stays."""
        done = upload.folder + "done"
        after: str | None = None
        while True:
            page = await upstream.list_objects(upload.bucket, prefix=upload.folder, after=after)
            keys = [o.key for o in page.contents if o.key != done]
            if keys:  # every version: a versioned bucket keeps none of them
                await purge(upstream, upload.bucket, keys)
            if not page.is_truncated or not page.contents:
                return
            after = page.next_after

    async def _newest_lease(
        self, upstream: Upstream, upload: StagedUpload
    ) -> tuple[int, float] | None:
        page = await upstream.list_objects(upload.bucket, prefix=upload.folder + "lease-")
        if not page.contents:
            return None
        newest = max(o.key for o in page.contents)
        number = int(newest.rsplit("-", 1)[1])
        try:
            stream = await upstream.get_object(upload.bucket, newest)
        except errors.NoSuchKey:
            return number, 0.0  # released meanwhile
        try:
            data = json.loads(b"".join([piece async for piece in stream.body]))
        finally:
            await stream.aclose()
        return number, float(data["expires"])

    async def _put_lease(
        self,
        upstream: Upstream,
        upload: StagedUpload,
        number: int,
        owner: str,
        *,
        create_only: bool,
    ) -> None:
        data = json.dumps({"owner": owner, "expires": time.time() + self.lease_seconds}).encode()
        key = f"{upload.folder}lease-{number:05d}"
        when = _CREATE if create_only else Conditions()
        await upstream.put_object(upload.bucket, key, Body.of(data), {}, conditions=when)
