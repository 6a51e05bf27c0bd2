"""HTTP to the upstream store: one pooled aiohttp session, signed requests,
streamed bodies, and S3 errors out of whatever comes back.

Streaming uploads send an explicit Content-Length, so aiohttp writes the body
as is (no chunked transfer-encoding, which S3 rejects for PUT). If the body
iterator raises, aiohttp stops writing short of the declared length and closes
that connection instead of returning it to the pool; the store sees a
truncated request and stores nothing. The caller gets the iterator's own
exception back, not aiohttp's wrapper around it.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from base64 import b64encode
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from s3gate import errors
from s3gate.s3.numbers import whole_number
from s3gate.upstream.base import Body
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.addressing import Addressing, Query
from s3gate.upstream.s3.signer import EMPTY_SHA256, UNSIGNED_PAYLOAD, Signer
from s3gate.upstream.settings import UpstreamSettings

ERROR_BODY_LIMIT = 64 * 1024
# A ListObjectsV2 page of 1000 url-encoded 1024-byte keys is ~4 MiB.
XML_BODY_LIMIT = 16 * 1024 * 1024
READ_CHUNK = 1024 * 1024


@dataclass
class _Feed:
    """Tracks an upload body: what the iterator raised, if anything."""

    body: Body
    error: BaseException | None = None
    started: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        self.started = True
        source = aiter(self.body.chunks)
        sent = 0
        try:
            while True:
                try:
                    chunk = await anext(source)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    self.error = exc
                    raise
                sent += len(chunk)
                if sent > self.body.length:
                    # Never let a longer body be cut silently at Content-Length.
                    self.error = errors.InternalError("Upload body longer than declared")
                    raise self.error
                yield chunk
            if sent != self.body.length:
                self.error = errors.IncompleteBody()
                raise self.error
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    async def discard(self) -> None:
        """Close the caller's iterator when it was never started (its own
        clean-up, say of a spool file, would otherwise wait for the GC)."""
        aclose = getattr(self.body.chunks, "aclose", None)
        if not self.started and aclose is not None:
            await aclose()


def unreachable(exc: BaseException) -> errors.ServiceUnavailable:
    """A short reason, never the URL or the exception text (which may carry
    the endpoint, headers or, for some proxies, credentials)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        reason = "name resolution failed"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        reason = "TLS handshake failed"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        # strerror would name the address; the errno's text does not.
        reason = os.strerror(exc.errno).lower() if exc.errno else "connection failed"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        reason = "server disconnected"
    elif isinstance(exc, TimeoutError):
        reason = "timed out"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        reason = "response body cut short"
    elif isinstance(exc, aiohttp.ClientResponseError):
        reason = "malformed HTTP response"
    elif isinstance(exc, OSError) and exc.errno:
        reason = os.strerror(exc.errno).lower()
    else:
        reason = type(exc).__name__
    return errors.ServiceUnavailable(f"The upstream store is unreachable: {reason}")


_CLIENT_FAILURES = (aiohttp.ClientError, TimeoutError, OSError)


def finish(resp: aiohttp.ClientResponse) -> None:
    """Return the connection to the pool if the body was read to the end,
    otherwise drop it (reusing it would hand the next request stale bytes)."""
    if resp.content.at_eof():
        resp.release()
    else:
        resp.close()


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read a whole (XML) body, refusing more than `limit` bytes."""
    buf = bytearray()
    try:
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            buf += chunk
            if len(buf) > limit:
                raise errors.InternalError("The upstream store sent an oversized response")
    except _CLIENT_FAILURES as exc:
        raise unreachable(exc) from exc
    finally:
        finish(resp)
    return bytes(buf)


def content_length(resp: aiohttp.ClientResponse) -> int:
    length = whole_number(resp.headers.get("Content-Length", ""))
    if length is None:
        finish(resp)
        raise errors.InternalError("The upstream store sent no Content-Length")
    return length


async def stream_body(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """A GET body as it arrives (whatever the socket has, up to read_bufsize: no
    waiting to fill fixed-size pieces, no re-copying); the connection is
    released when the body ends or the iterator is closed."""
    try:
        async for chunk, _ in resp.content.iter_chunks():
            yield chunk
    except _CLIENT_FAILURES as exc:
        raise unreachable(exc) from exc
    finally:
        finish(resp)


def _status_error(status: int, reason: str, missing: type[errors.S3Error]) -> errors.S3Error:
    known: dict[int, type[errors.S3Error]] = {
        403: errors.AccessDenied,
        404: missing,
        405: errors.MethodNotAllowed,
        412: errors.PreconditionFailed,
        416: errors.InvalidRange,
        500: errors.InternalError,
        503: errors.ServiceUnavailable,
    }
    cls = known.get(status)
    if cls is not None:
        return cls()
    if status in (502, 504):
        # A proxy in front of the store could not reach it: the same
        # condition as our own connection failing, one hop further.
        return errors.ServiceUnavailable(f"The upstream store is unreachable: HTTP {status}")
    return errors.UpstreamError("".join(reason.title().split()) or f"HTTP{status}", status)


async def raise_for(
    resp: aiohttp.ClientResponse,
    missing: type[errors.S3Error] = errors.NoSuchKey,
    *,
    upload: bool = False,
) -> None:
    """Raise the S3 error a non-2xx answer stands for. `missing` is what a
    bare 404 means (HEAD answers carry no body to tell). After an upload's
    error the connection is dropped: a store may answer (403, 404 …) before
    the body is in, and releasing would keep streaming the rest to nobody."""
    if resp.status < 300:
        return
    if upload:
        # Read the error document first: dropping would lose it.
        body = await _error_body(resp)
        resp.close()
        raise _error(resp, body, missing)
    if resp.status == 304:
        finish(resp)
        keep = {k: resp.headers[k] for k in ("ETag", "Last-Modified") if k in resp.headers}
        raise errors.NotModified(headers=keep)
    body = await _error_body(resp)
    finish(resp)
    raise _error(resp, body, missing)


async def _error_body(resp: aiohttp.ClientResponse) -> bytes:
    if resp.method == "HEAD":
        return b""
    try:
        return await read_body(resp, ERROR_BODY_LIMIT)
    except errors.S3Error:
        return b""  # oversized or cut short: the status decides


def _error(
    resp: aiohttp.ClientResponse, body: bytes, missing: type[errors.S3Error]
) -> errors.S3Error:
    parsed = s3xml.parse_error(body) if body else None
    err = (
        errors.from_code(parsed[0], resp.status, parsed[1] or None)
        if parsed
        else _status_error(resp.status, resp.reason or "", missing)
    )
    if resp.status == 416 and "Content-Range" in resp.headers:
        err.headers["Content-Range"] = resp.headers["Content-Range"]
    if "x-amz-delete-marker" in resp.headers:
        # The key's latest version is a delete marker (404), or the version
        # asked for is one (405): S3 says so in headers, clients read them.
        for name in ("x-amz-delete-marker", "x-amz-version-id"):
            if name in resp.headers:
                err.headers[name] = resp.headers[name]
    return err


def _ssl_context(settings: UpstreamSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return True


class Transport:
    def __init__(
        self,
        settings: UpstreamSettings,
        signer: Signer | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self.settings = settings
        self.addressing = Addressing(settings)
        self.signer = signer or Signer(settings)
        self._trace_configs = trace_configs
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout()

    async def start(self) -> None:
        if self._session is not None:
            return
        s = self.settings
        connector = aiohttp.TCPConnector(limit=s.pool_size, ssl=_ssl_context(s))
        # No total timeout: it would cut long streams. sock_connect bounds the
        # TCP/TLS handshake; connect also bounds the wait for a pooled slot;
        # sock_read bounds every read (between bytes, not the whole body).
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=s.connect_timeout_seconds,
            connect=s.connect_timeout_seconds + s.read_timeout_seconds,
            sock_read=s.read_timeout_seconds,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # Bytes exactly as stored: never gunzip an object that was stored
            # with Content-Encoding: gzip, and never ask for compression.
            auto_decompress=False,
            read_bufsize=READ_CHUNK,
            # aiohttp would add Content-Type: application/octet-stream to
            # every PUT/POST, and the store would keep it as the object's type.
            skip_auto_headers=("User-Agent", "Content-Type"),
            trace_configs=self._trace_configs,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(
        self,
        method: str,
        bucket: str | None,
        key: str | None = None,
        *,
        query: Query = (),
        headers: Mapping[str, str] | None = None,
        body: Body | bytes | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        """Sign and send; return the response whatever its status. Transport
        failures become ServiceUnavailable; a failing body its own error."""
        if self._session is None:
            raise errors.ServiceUnavailable("The upstream client is not started")
        url, host = self.addressing.url(bucket, key, query)
        out = {"Host": host, **(headers or {})}
        feed: _Feed | None = None
        data: AsyncIterator[bytes] | bytes | None
        if isinstance(body, Body):
            feed = _Feed(body)
            data = feed.chunks()
            payload_hash = body.sha256_hex or UNSIGNED_PAYLOAD
            if body.content_md5:
                out["Content-MD5"] = body.content_md5
            if body.checksum is not None:
                algorithm, value = body.checksum
                out[f"x-amz-checksum-{algorithm.lower()}"] = value
                # As the SDKs send it; some stores (moto) keep the value only then.
                out["x-amz-sdk-checksum-algorithm"] = algorithm
        elif body is not None:
            data = body
            payload_hash = hashlib.sha256(body).hexdigest()
            out["Content-MD5"] = b64encode(
                hashlib.md5(body, usedforsecurity=False).digest()
            ).decode()
        else:
            data, payload_hash = None, EMPTY_SHA256
        signed = await self.signer.sign(method, url, out, payload_hash)
        # Unsigned transport headers: the length is aiohttp's business for
        # bytes, ours for streams (explicit, so no chunked encoding).
        signed["Accept-Encoding"] = "identity"
        if feed is not None:
            signed["Content-Length"] = str(feed.body.length)
        try:
            resp = await self._session.request(
                method,
                URL(url, encoded=True),
                headers=signed,
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout,
            )
        except _CLIENT_FAILURES as exc:
            if feed is not None and feed.error is not None:
                raise feed.error from None
            if feed is not None:
                await feed.discard()
            raise unreachable(exc) from exc
        if feed is not None and feed.error is not None:
            # The store answered before the body failed (an early error):
            # the connection is unusable either way.
            resp.close()
            raise feed.error
        return resp

    async def done(
        self,
        resp: aiohttp.ClientResponse,
        missing: type[errors.S3Error] = errors.NoSuchBucket,
        *,
        upload: bool = False,
    ) -> None:
        """Check an answer whose body is of no interest, and release it."""
        await raise_for(resp, missing, upload=upload)
        finish(resp)

    async def xml(
        self, resp: aiohttp.ClientResponse, missing: type[errors.S3Error] = errors.NoSuchBucket
    ) -> bytes:
        """The body of a successful XML answer; the error of any other."""
        await raise_for(resp, missing)
        return await read_body(resp, XML_BODY_LIMIT)
