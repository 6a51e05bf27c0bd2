"""Whole-object reads, writes and listings of the audit bucket over `Upstream`.

Audit objects are small (a manifest is about a kilobyte, a batch at most a few
megabytes), so they are handled as bytes. Used by the shipper (with the
gateway's upstream credentials) and by the verifier (with an auditor's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from s3gate import errors
from s3gate.upstream.base import Body, Upstream

# A listing page; S3's own maximum.
PAGE = 1000
# Largest object the verifier downloads (a batch is far smaller).
MAX_OBJECT = 256 * 1024 * 1024


async def put_bytes(
    upstream: Upstream, bucket: str, key: str, data: bytes, content_type: str
) -> None:
    """PUT with SHA-256 and MD5 sent along, so the store checks the bytes."""
    await upstream.put_object(bucket, key, Body.of(data), {"content-type": content_type})


async def get_bytes(upstream: Upstream, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None if there is no such key."""
    try:
        stream = await upstream.get_object(bucket, key)
    except errors.NoSuchKey:
        return None
    except errors.UpstreamError as exc:
        if exc.error_code == "NoSuchKey":
            return None
        raise
    try:
        if stream.content_length > MAX_OBJECT:
            raise ValueError(f"{key}: object of {stream.content_length} bytes is too large")
        parts = [chunk async for chunk in stream.body]
    finally:
        await stream.aclose()
    return b"".join(parts)


async def list_keys(
    upstream: Upstream, bucket: str, prefix: str, *, after: str | None = None
) -> AsyncIterator[str]:
    """Every key under `prefix` after `after`, in key order."""
    while True:
        page = await upstream.list_objects(bucket, prefix=prefix, max_keys=PAGE, after=after)
        for item in page.contents:
            yield item.key
        if not page.is_truncated or not page.contents:
            return
        after = page.next_after or page.contents[-1].key


async def list_prefixes(upstream: Upstream, bucket: str, prefix: str) -> list[str]:
    """The common prefixes one level below `prefix` (delimiter `/`)."""
    found: list[str] = []
    after: str | None = None
    while True:
        page = await upstream.list_objects(
            bucket, prefix=prefix, delimiter="/", max_keys=PAGE, after=after
        )
        found += page.common_prefixes
        if not page.is_truncated or page.next_after is None:
            return found
        after = page.next_after
