"""Signing keys of the trusted issuers: fetched, cached, refetched on demand.

Keys come from OIDC discovery, a JWKS URL or a JWKS file. They are kept for
`jwks_cache_seconds`; a token naming a key id we do not have triggers a
refetch, at most once per `jwks_min_refetch_seconds` per issuer, so made-up
key ids cannot turn the gateway into a load generator against the issuer.
Concurrent requests that need the same refetch share one fetch.

Fail closed: when the cache is past its lifetime and the issuer cannot be
reached, tokens of that issuer are refused with `IDPCommunicationError`
(which SDKs retry) rather than checked against keys the issuer may have
withdrawn. Only public key members are imported, symmetric (`oct`) keys and
RSA keys under 2048 bits are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, RSAKey
from joserfc.jws import JWSRegistry

from s3gate.identity.settings import IdentitySettings, IssuerSettings
from s3gate.identity.sts_errors import IDPCommunicationError

log = logging.getLogger("s3gate.identity")

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_KEYS = 100
MIN_RSA_BITS = 2048
# After a failed fetch, requests fail fast for this long instead of each
# waiting for the issuer's timeout again.
FAILURE_BACKOFF_SECONDS = 5.0
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}


class FetchError(Exception):
    """The keys could not be obtained; the message is for the server log."""


@dataclass
class _IssuerKeys:
    settings: IssuerSettings
    by_kid: dict[str, list[Key]] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    fetched_at: float | None = None  # last success (monotonic)
    attempted_at: float | None = None  # last attempt, successful or not
    failed: bool = False
    generation: int = 0
    fetches: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def parse_jwks(document: Any) -> list[tuple[str | None, Key]]:
    """(kid, public key) for each usable signing key of a JWKS document."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise FetchError("not a JWKS document (no keys list)")
    out: list[tuple[str | None, Key]] = []
    for entry in document["keys"][:MAX_KEYS]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        members = _PUBLIC_MEMBERS.get(str(entry.get("kty")))
        if members is None:
            continue
        kid = entry.get("kid")
        public: dict[str, Any] = {"kty": entry["kty"], **{m: entry.get(m) for m in members}}
        if isinstance(entry.get("alg"), str):
            public["alg"] = entry["alg"]
        try:
            key = JWKRegistry.import_key(public)
        except (JoseError, ValueError, TypeError) as exc:
            log.debug("skipping unusable JWKS key %r: %s", kid, exc)
            continue
        if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
            continue
        out.append((kid if isinstance(kid, str) else None, key))
    return out


def compatible(key: Key, alg: str) -> bool:
    """Whether `key` may verify `alg` (key type, curve, the key's own `alg`)."""
    model = JWSRegistry.algorithms.get(alg)
    if model is None:
        return False
    try:
        model.check_key(key)
    except JoseError:
        return False
    return True


class JwksCache:
    def __init__(
        self, settings: IdentitySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._issuers = {i.name: _IssuerKeys(i) for i in settings.issuers}
        self._ssl: dict[str, ssl.SSLContext] = {}
        self._session: aiohttp.ClientSession | None = None

    async def key_for(self, issuer: IssuerSettings, kid: str | None, alg: str) -> Key | None:
        """The key to verify a token of `issuer`, or None if it has no such
        key even after a (rate-limited) refetch. Raises IDPCommunicationError
        when the keys cannot be obtained."""
        state = self._issuers[issuer.name]
        if state.fetched_at is None or self._clock() - state.fetched_at >= self._ttl:
            await self._refresh(state, "cache expired")
        key = self._select(state, kid, alg)
        if key is not None:
            return key
        last = state.attempted_at
        if last is None or self._clock() - last >= self._settings.jwks_min_refetch_seconds:
            await self._refresh(state, "unknown key id")
            key = self._select(state, kid, alg)
        return key

    def fetches(self, issuer_name: str) -> int:
        """How many times the issuer's keys were loaded (tests, metrics)."""
        return self._issuers[issuer_name].fetches

    async def warm(self) -> None:
        """Load every issuer's keys once (start-up); failures are logged only."""
        for state in self._issuers.values():
            with contextlib.suppress(IDPCommunicationError):
                await self._refresh(state, "start-up")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def _ttl(self) -> float:
        return float(self._settings.jwks_cache_seconds)

    @staticmethod
    def _select(state: _IssuerKeys, kid: str | None, alg: str) -> Key | None:
        if kid is not None:
            return next((k for k in state.by_kid.get(kid, ()) if compatible(k, alg)), None)
        # No kid in the token: only unambiguous if exactly one key fits.
        fits = [k for k in state.keys if compatible(k, alg)]
        return fits[0] if len(fits) == 1 else None

    async def _refresh(self, state: _IssuerKeys, reason: str) -> None:
        seen = state.generation
        async with state.lock:
            if state.generation != seen:
                # Another request refreshed while we waited: share its outcome.
                if state.failed or state.fetched_at is None:
                    raise IDPCommunicationError()
                return
            now = self._clock()
            backoff = min(FAILURE_BACKOFF_SECONDS, self._settings.jwks_min_refetch_seconds)
            if (
                state.failed
                and state.attempted_at is not None
                and now - state.attempted_at < backoff
            ):
                raise IDPCommunicationError()
            state.attempted_at = now
            state.fetches += 1
            try:
                keys = parse_jwks(await self._load(state.settings))
            except FetchError as exc:
                state.failed = True
                log.warning(
                    "cannot load signing keys of issuer %s (%s): %s",
                    state.settings.name,
                    reason,
                    exc,
                )
                raise IDPCommunicationError() from None
            finally:
                # Bumped once the outcome is known, so that requests queued on
                # the lock share it instead of fetching again.
                state.generation += 1
            state.by_kid = {}
            for kid, key in keys:
                if kid is not None:
                    state.by_kid.setdefault(kid, []).append(key)
            state.keys = [key for _, key in keys]
            state.fetched_at = self._clock()
            state.failed = False
            log.debug(
                "loaded %d signing keys of issuer %s (%s)", len(keys), state.settings.name, reason
            )

    async def _load(self, issuer: IssuerSettings) -> Any:
        if issuer.jwks_file is not None:
            return await asyncio.to_thread(_read_file, issuer.jwks_file)
        if issuer.jwks_uri is not None:
            return await self._fetch(issuer, issuer.jwks_uri)
        meta = await self._fetch(issuer, issuer.discovery_url)
        # OIDC Discovery 1.0 §4.3: the document must name the same issuer.
        if not isinstance(meta, Mapping) or meta.get("issuer") != issuer.issuer:
            raise FetchError("discovery document names another issuer")
        jwks_uri = meta.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise FetchError("discovery document has no usable jwks_uri")
        if jwks_uri.startswith("http://") and not issuer.issuer.startswith("http://"):
            raise FetchError("discovery document downgrades jwks_uri to http")
        return await self._fetch(issuer, jwks_uri)

    async def _fetch(self, issuer: IssuerSettings, url: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.http_timeout_seconds),
                headers={"Accept": "application/json"},
            )
        try:
            # No redirects: one could lead from https to http.
            async with self._session.get(
                url, ssl=self._ssl_for(issuer), allow_redirects=False
            ) as resp:
                if resp.status != 200:
                    raise FetchError(f"{url} answered HTTP {resp.status}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise FetchError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise FetchError(f"{url} did not send JSON") from exc

    def _ssl_for(self, issuer: IssuerSettings) -> ssl.SSLContext | bool:
        if issuer.ca_bundle is None:
            return True
        ctx = self._ssl.get(issuer.name)
        if ctx is None:
            try:
                ctx = ssl.create_default_context(cafile=str(issuer.ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise FetchError(f"cannot load ca_bundle {issuer.ca_bundle}: {exc}") from exc
            self._ssl[issuer.name] = ctx
        return ctx


def _read_file(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FetchError(f"{path} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise FetchError(f"{path} is not JSON") from exc
