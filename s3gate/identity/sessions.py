"""Stateless STS sessions: the session token seals the principal and the secret.

A session token is `s3g1.<key id>.<base64url(salt | nonce | ciphertext)>`. The
ciphertext is AES-256-GCM over a small JSON document (access key id, secret,
expiry, issuer, subject, role, groups, session name, selected claims); the
version and key id travel in clear and are bound as associated data. Each
token is sealed under its own key, HKDF(session key, random salt), so the
random 96-bit GCM nonces never approach their collision bound however many
sessions one key seals. Any replica holding the session keys opens any token:
no shared store. One key seals (`active_session_key`); every configured key
opens, which is how keys rotate.

Opening is on the path of every S3 request made with session credentials, so
opened sessions are kept in a bounded LRU keyed by SHA-256 of the token; the
expiry and the access key binding are still checked on every use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from s3gate import errors
from s3gate.identity.principal import Credential, Principal
from s3gate.identity.settings import IdentitySettings

VERSION = "s3g1"
_INFO = b"s3gate session token v1"
_SALT, _NONCE, _TAG = 16, 12, 16
MAX_TOKEN_CHARS = 8192  # the sealed document is bounded well below this


@dataclass(frozen=True)
class SessionGrant:
    """What a session stands for: decided by STS, sealed into the token."""

    issuer: str
    subject: str
    role: str
    role_arn: str
    session_name: str
    groups: tuple[str, ...] = ()
    claims: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_access_key_id() -> str:
    """AWS temporary-credential shape: ASIA + 16 upper-case alphanumerics
    (base32 of 80 random bits: one system call instead of sixteen)."""
    return "ASIA" + base64.b32encode(secrets.token_bytes(10)).decode("ascii")


class SessionSealer:
    def __init__(
        self,
        keys: Mapping[str, bytes],
        active: str,
        cache_size: int = 10000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if active not in keys:
            raise ValueError("the active session key must be one of the keys")
        if any(len(k) != 32 for k in keys.values()):
            raise ValueError("session keys are 32 bytes")
        self._keys = dict(keys)
        self._active = active
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, tuple[Credential, str, float]] = OrderedDict()
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: IdentitySettings, clock: Callable[[], float] = time.time
    ) -> SessionSealer | None:
        """None when no session keys are configured (STS is then off)."""
        if not settings.session_keys or settings.active_session_key is None:
            return None
        keys = {k.id: k.key_bytes() for k in settings.session_keys}
        return cls(keys, settings.active_session_key, settings.session_cache_size, clock)

    def seal(self, grant: SessionGrant, duration_seconds: int) -> SessionCredentials:
        now = int(self._clock())
        expires = now + duration_seconds
        access_key_id = new_access_key_id()
        secret = secrets.token_urlsafe(30)  # 40 characters, as AWS secrets
        document = {
            "a": access_key_id,
            "s": secret,
            "t": now,
            "x": expires,
            "i": grant.issuer,
            "u": grant.subject,
            "r": grant.role,
            "ra": grant.role_arn,
            "n": grant.session_name,
            "g": list(grant.groups),
            "c": dict(grant.claims),
        }
        plain = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        salt, nonce = secrets.token_bytes(_SALT), secrets.token_bytes(_NONCE)
        header = f"{VERSION}.{self._active}"
        sealed = self._aead(self._keys[self._active], salt).encrypt(nonce, plain, header.encode())
        token = f"{header}.{_b64(salt + nonce + sealed)}"
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("session too large to seal (groups or claims)")
        return SessionCredentials(
            access_key_id=access_key_id,
            secret_access_key=secret,
            session_token=token,
            expiration=datetime.fromtimestamp(expires, UTC),
        )

    def open(self, token: str, access_key_id: str) -> Credential:
        """The credential a session token stands for, if it belongs to
        `access_key_id` and has not expired."""
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise errors.InvalidToken()
        digest = hashlib.sha256(token.encode("ascii")).digest()
        found = self._cache.get(digest)
        if found is not None:
            self._cache.move_to_end(digest)
        else:
            found = self._unseal(token)
            if self._cache_size > 0:
                self._cache[digest] = found
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        credential, sealed_key_id, expires = found
        # A token only works with the access key it was issued with.
        if not hmac.compare_digest(sealed_key_id.encode(), access_key_id.encode()):
            raise errors.InvalidToken()
        if self._clock() >= expires:
            self._cache.pop(digest, None)
            raise errors.ExpiredToken()
        return credential

    def cache_len(self) -> int:
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.clear()

    @staticmethod
    def _aead(key: bytes, salt: bytes) -> AESGCM:
        subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(key)
        return AESGCM(subkey)

    def _unseal(self, token: str) -> tuple[Credential, str, float]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise errors.InvalidToken()
        key = self._keys.get(parts[1])
        if key is None:
            raise errors.InvalidToken()
        try:
            blob = _unb64(parts[2])
        except (binascii.Error, ValueError):
            raise errors.InvalidToken() from None
        # Canonical encoding only: one session, one token string.
        if _b64(blob) != parts[2] or len(blob) < _SALT + _NONCE + _TAG:
            raise errors.InvalidToken()
        salt, nonce, sealed = blob[:_SALT], blob[_SALT : _SALT + _NONCE], blob[_SALT + _NONCE :]
        header = f"{parts[0]}.{parts[1]}".encode()
        try:
            plain = self._aead(key, salt).decrypt(nonce, sealed, header)
        except InvalidTag:
            raise errors.InvalidToken() from None
        return _credential(plain)


def _credential(plain: bytes) -> tuple[Credential, str, float]:
    """Authentic documents were written by `seal`; a shape error still fails
    closed rather than half-building a principal."""
    try:
        doc: dict[str, Any] = json.loads(plain)
        access_key_id, expires = str(doc["a"]), float(doc["x"])
        principal = Principal(
            subject=str(doc["u"]),
            access_key_id=access_key_id,
            source="session",
            groups=tuple(str(g) for g in doc["g"]),
            issuer=str(doc["i"]),
            role=str(doc["r"]),
            role_arn=str(doc["ra"]),
            session_name=str(doc["n"]),
            claims=MappingProxyType({str(k): str(v) for k, v in doc["c"].items()}),
            expires=datetime.fromtimestamp(expires, UTC),
        )
        return Credential(secret=str(doc["s"]), principal=principal), access_key_id, expires
    except (KeyError, TypeError, ValueError, AttributeError):
        raise errors.InvalidToken() from None
