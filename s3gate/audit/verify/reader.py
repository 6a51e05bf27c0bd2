"""Reading the audit bucket with ordinary S3 credentials.

`audit verify` and `audit show` read through any S3 endpoint: the gateway
itself (as an auditor) or the store directly. They reuse the gateway's own S3
client (`S3Upstream`) with settings built from command-line flags and the
standard AWS environment: `AWS_ENDPOINT_URL`, `AWS_REGION` /
`AWS_DEFAULT_REGION`, and credentials from `AWS_ACCESS_KEY_ID` /
`AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` or else botocore's chain
(profiles, SSO, instance roles).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from s3gate.audit import bucket as io
from s3gate.audit.keys import KeyFileError, PublicKey, parse_public
from s3gate.audit.layout import Layout
from s3gate.configbase import Secret
from s3gate.upstream.base import Upstream
from s3gate.upstream.settings import UpstreamSettings


def upstream_settings(
    endpoint_url: str | None,
    region: str | None = None,
    *,
    verify_tls: bool = True,
    ca_bundle: Path | None = None,
) -> UpstreamSettings:
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    explicit = bool(key_id and secret)
    return UpstreamSettings(
        type="s3",
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        region=region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        access_key_id=Secret(env="AWS_ACCESS_KEY_ID") if explicit else None,
        secret_access_key=Secret(env="AWS_SECRET_ACCESS_KEY") if explicit else None,
        session_token=(
            Secret(env="AWS_SESSION_TOKEN")
            if explicit and os.environ.get("AWS_SESSION_TOKEN")
            else None
        ),
        verify_tls=verify_tls,
        ca_bundle=ca_bundle,
        pool_size=16,
    )


class AuditReader:
    """Read-only view of one audit bucket and prefix."""

    def __init__(self, upstream: Upstream, bucket: str, prefix: str = "s3gate/v1") -> None:
        self.upstream = upstream
        self.bucket = bucket
        self.layout = Layout(prefix)

    async def replicas(self) -> list[str]:
        prefixes = await io.list_prefixes(self.upstream, self.bucket, self.layout.replicas_prefix)
        start = len(self.layout.replicas_prefix)
        return sorted(p[start:].rstrip("/") for p in prefixes)

    async def keys(self, prefix: str) -> list[str]:
        return [key async for key in io.list_keys(self.upstream, self.bucket, prefix)]

    async def get(self, key: str) -> bytes | None:
        return await io.get_bytes(self.upstream, self.bucket, key)

    async def published_keys(self) -> dict[str, PublicKey]:
        """Public keys as published in the bucket. NOT a trust anchor by
        themselves: whoever can write the bucket can add a key here."""
        found: dict[str, PublicKey] = {}
        for key in await self.keys(self.layout.keys_prefix):
            if not key.endswith(".pem"):
                continue
            data = await self.get(key)
            if data is None:
                continue
            try:
                public = parse_public(data, key)
            except KeyFileError:
                continue
            found[public.kid] = public
        return found

    async def prefetch(
        self, replica: str, chain: list[tuple[int, str]], batch_keys: set[str], depth: int
    ) -> AsyncIterator[tuple[int, str, bytes | None, bytes | None]]:
        """(sequence, manifest key, manifest bytes, bytes of the batch of the
        same number if listed) in chain order, with `depth` fetches in flight:
        verifying a long chain is bound by round trips, not by hashing."""

        async def both(seq: int, key: str) -> tuple[bytes | None, bytes | None]:
            batch_key = self.layout.batch_key(replica, seq)
            if batch_key not in batch_keys:
                return await self.get(key), None
            data, batch = await asyncio.gather(self.get(key), self.get(batch_key))
            return data, batch

        pending: list[asyncio.Future[tuple[bytes | None, bytes | None]]] = []
        index = 0
        try:
            while index < len(chain):
                while len(pending) < depth and index + len(pending) < len(chain):
                    seq, key = chain[index + len(pending)]
                    pending.append(asyncio.ensure_future(both(seq, key)))
                data, batch = await pending.pop(0)
                seq, key = chain[index]
                index += 1
                yield seq, key, data, batch
        finally:
            for task in pending:
                task.cancel()
