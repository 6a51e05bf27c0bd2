"""A spooled masked whole on its way to the store: one PUT, or — above a size
— a multipart upload of its own.

A store takes at most 5 GiB in one PUT, so a masked object sent whole would
be capped there. Above `masking.upstream_multipart_above_bytes` the spool is
sent as parts of `masking.upstream_part_bytes` (grown when the object would
need more than S3's 10,000 parts), each with its own SHA-256 and Content-MD5
so the store checks every part as it checks a single PUT. Any failure or
cancellation on the way aborts the upload, so the store keeps neither an
object nor an upload in progress (docs/masking.md, "Large masked uploads").
The store's answer (its `…-N` ETag) is what the write returns: HEAD, GET and
listings show that same ETag.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace

from s3gate import errors
from s3gate.masking.spool import Spool
from s3gate.s3.model import PutResult
from s3gate.transform.settings import MaskingSettings
from s3gate.upstream.base import Upstream

MiB = 1024 * 1024
# S3's rules for a multipart upload: every part but the last at least 5 MiB,
# at most 5 GiB each, at most 10,000 parts.
MIN_PART_BYTES = 5 * MiB
MAX_PART_BYTES = 5 * 1024 * MiB
MAX_PARTS = 10_000
# S3's largest object; a masked whole beyond it is refused.
MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB


@dataclass(frozen=True)
class Sizing:
    """When a masked whole goes up in parts, and how large they are."""

    part_bytes: int = 64 * MiB
    multipart_above: int = 256 * MiB

    @classmethod
    def of(cls, settings: MaskingSettings) -> Sizing:
        return cls(settings.upstream_part_bytes, settings.upstream_multipart_above_bytes)

    def ranges(self, length: int) -> list[tuple[int, int]]:
        """(offset, length) of each part of a `length`-byte whole; one range
        when it goes up in one PUT."""
        if length <= self.multipart_above:
            return [(0, length)]
        if length > MAX_OBJECT_BYTES:
            raise errors.EntityTooLarge(extra={"ProposedSize": str(length)})
        size = min(max(self.part_bytes, -(-length // MAX_PARTS)), MAX_PART_BYTES)
        return [(start, min(size, length - start)) for start in range(0, length, size)]


@dataclass(frozen=True)
class Sent:
    """The store's answer and how many parts the object was sent in (0: one PUT)."""

    result: PutResult
    parts: int


async def send_spool(
    upstream: Upstream,
    bucket: str,
    key: str,
    spool: Spool,
    metadata: dict[str, str],
    sizing: Sizing,
    checksum: tuple[str, str] | None = None,
) -> Sent:
    """Store the spool's bytes as `key` with `metadata`. `checksum`
    (algorithm, base64 over the whole) goes with a single PUT, where the
    store verifies and keeps it; a whole sent in parts is checked part by
    part (SHA-256 and MD5 of each) and the store keeps no whole-object
    checksum (docs/masking.md)."""
    ranges = sizing.ranges(spool.length)
    if len(ranges) == 1:
        body = spool.body()
        if checksum is not None:
            body = replace(body, checksum=checksum)
        return Sent(await upstream.put_object(bucket, key, body, metadata), 0)
    upload_id = await upstream.create_multipart_upload(bucket, key, metadata)
    try:
        etags: list[tuple[int, str]] = []
        for number, (offset, length) in enumerate(ranges, start=1):
            part = await spool.part(offset, length)
            etags.append((number, await upstream.upload_part(bucket, key, upload_id, number, part)))
        result = await upstream.complete_multipart_upload(bucket, key, upload_id, etags)
    except BaseException:
        # Shielded: a cancelled request (the client left) still aborts, so
        # the store keeps no upload in progress with masked parts in it.
        await _abort(upstream, bucket, key, upload_id)
        raise
    return Sent(result, len(ranges))


async def _abort(upstream: Upstream, bucket: str, key: str, upload_id: str) -> None:
    aborting = asyncio.ensure_future(upstream.abort_multipart_upload(bucket, key, upload_id))
    with contextlib.suppress(errors.S3Error, asyncio.CancelledError):
        # NoSuchUpload: a Complete that failed on its way back had committed.
        await asyncio.shield(aborting)
