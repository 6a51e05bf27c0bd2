"""SigV4 signing of upstream requests, with botocore's own S3 signer.

botocore decides what a correct S3 signature is (canonical request, header
trimming, the S3 rule of not normalising the path); we only feed it the
request line and the headers we send, never the body. The payload hash is
given to us (`Body.sha256_hex`, or the hash of a small XML body we built) or is
`UNSIGNED-PAYLOAD` for a stream whose hash is not known before it is sent.

Signing runs on every request, on the event loop, so it is kept lean: one auth
object per set of credentials, and the SigV4 signing key (four HMACs) derived
once per day instead of once per request. Refreshable credentials (instance
roles, web identity, SSO …) are refreshed in a worker thread, because botocore
refreshes them with blocking network calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from s3gate import errors
from s3gate.configbase import ConfigError
from s3gate.upstream.settings import UpstreamSettings

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class _S3Auth(S3SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's S3 signer, told the payload hash instead of hashing a body,
    and keeping the derived signing key for the day of the request."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str) -> None:
        super().__init__(credentials, "s3", region)
        self._key_day = ""
        self._key = b""

    def payload(self, request: AWSRequest) -> str:
        return str(request.context["payload_hash"])

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        day = request.context["timestamp"][0:8]
        if day != self._key_day:
            key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
            for part in (self._region_name, self._service_name, "aws4_request"):
                key = self._sign(key, part)
            self._key, self._key_day = key, day
        return hmac.new(self._key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _configured_credentials(settings: UpstreamSettings) -> Any:
    """Credentials from settings, else botocore's default chain (environment,
    shared files, web identity, container and instance roles)."""
    key_id, secret = settings.access_key_id, settings.secret_access_key
    if (key_id is None) != (secret is None):
        raise ConfigError(
            "upstream.access_key_id and upstream.secret_access_key must be given together"
        )
    if key_id is not None and secret is not None:
        token = settings.session_token.resolve() if settings.session_token else None
        return Credentials(key_id.resolve(), secret.resolve(), token)
    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise ConfigError(
            "no upstream credentials: set upstream.access_key_id and "
            "upstream.secret_access_key, or provide them through the AWS credential chain"
        )
    return found


# After a refresh attempt that failed or changed nothing, wait this long
# before the next one instead of trying again on every request.
REFRESH_RETRY_SECONDS = 10.0


class Signer:
    """Signs requests for one region with one source of credentials."""

    def __init__(self, settings: UpstreamSettings, credentials: Any = None) -> None:
        self._region = settings.region
        self._source = credentials if credentials is not None else _configured_credentials(settings)
        # Static credentials never change: no per-request refresh check.
        self._refreshable = callable(getattr(self._source, "refresh_needed", None))
        self._refresh_lock = asyncio.Lock()
        self._last: ReadOnlyCredentials | None = None  # what the last refresh gave
        self._retry_at = 0.0
        self._failed: errors.S3Error | None = None
        self._frozen: ReadOnlyCredentials | None = None
        self._auth: _S3Auth | None = None

    async def _credentials(self) -> ReadOnlyCredentials:
        """The current credentials, never blocking the event loop.

        botocore refreshes inside `get_frozen_credentials()`, with blocking
        network calls (STS, IMDS …) and, close to expiry, by waiting on a
        thread lock. So that call is made on the loop only while no refresh
        is due; otherwise one refresh at a time runs in a worker thread, and
        a refresh that failed is not retried on every request."""
        src = self._source
        if not src.refresh_needed():
            return src.get_frozen_credentials()
        async with self._refresh_lock:
            if not src.refresh_needed():
                return src.get_frozen_credentials()
            if time.monotonic() < self._retry_at:
                if self._failed is not None:
                    raise self._failed
                if self._last is not None and not src.refresh_needed(0):
                    return self._last  # still valid; the refresh can wait
            try:
                frozen: ReadOnlyCredentials = await asyncio.to_thread(src.get_frozen_credentials)
            except Exception as exc:  # botocore raises many kinds
                self._failed = errors.ServiceUnavailable(
                    "The gateway's upstream credentials could not be refreshed"
                )
                self._retry_at = time.monotonic() + REFRESH_RETRY_SECONDS
                raise self._failed from exc
            self._failed, self._last = None, frozen
            if src.refresh_needed():  # botocore kept the old ones (advisory failure)
                self._retry_at = time.monotonic() + REFRESH_RETRY_SECONDS
            return frozen

    async def _current_auth(self) -> _S3Auth:
        if self._refreshable:
            frozen = await self._credentials()
        elif self._frozen is None:
            frozen = self._source.get_frozen_credentials()
        else:
            frozen = self._frozen
        if self._auth is None or frozen != self._frozen:
            self._auth = _S3Auth(frozen, self._region)
            self._frozen = frozen
        return self._auth

    async def sign(
        self, method: str, url: str, headers: Mapping[str, str], payload_hash: str
    ) -> dict[str, str]:
        """Return `headers` plus X-Amz-Date, X-Amz-Content-SHA256, the session
        token if any, and Authorization. `url` must be fully encoded already
        (path and canonical query), and `headers` must contain Host."""
        auth = await self._current_auth()
        request = AWSRequest(method=method, url=url, headers=headers)
        request.context["payload_hash"] = payload_hash
        auth.add_auth(request)
        return dict(request.headers.items())
