"""`Upstream` over a real S3 endpoint (AWS, MinIO, Ceph RGW, moto …).

Each method is one S3 call: build the request (`addressing`), sign and send
it (`signer`, `http`), turn the answer into the typed values of `s3.model`
(`xml`, `versions`, `headers`). Request and response bodies stream; only XML is buffered, and
only up to a limit. The calls are grouped by what they act on, one mixin per
module (`buckets`, `listing`, `objects`, `deletes`, `multipart`); this module
assembles them and holds the client's lifecycle.
"""

from __future__ import annotations

import aiohttp

from s3gate import errors
from s3gate.upstream.s3.buckets import BucketCalls
from s3gate.upstream.s3.deletes import DeleteCalls
from s3gate.upstream.s3.http import Transport, finish, raise_for
from s3gate.upstream.s3.listing import ListingCalls
from s3gate.upstream.s3.multipart import MultipartCalls
from s3gate.upstream.s3.objects import ObjectCalls
from s3gate.upstream.s3.signer import Signer
from s3gate.upstream.settings import UpstreamSettings


class S3Upstream(BucketCalls, ListingCalls, ObjectCalls, DeleteCalls, MultipartCalls):
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
