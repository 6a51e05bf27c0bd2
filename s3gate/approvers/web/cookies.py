"""The two cookies of the web page, sealed with AES-GCM under keys of the
gateway's keyring (derived from the shared session keys, so any replica opens
them; the key id travels in the clear for rotation).

- the session: who signed in (subject, issuer name, groups, the roles the
  identity is trusted for), the CSRF token bound to it, the expiry;
- the login: `state`, `nonce` and the PKCE verifier of one sign-in under way.

The cookie's name is the associated data, so one cookie cannot be passed off
as the other. Nothing here is readable or forgeable by the browser; the
expiry is inside the seal, so a cookie kept past its Max-Age is still refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
# Browsers keep at least 4096 bytes per cookie (name and attributes included).
MAX_COOKIE_CHARS = 3800


@dataclass(frozen=True)
class WebSession:
    subject: str
    issuer: str  # the configured issuer name, as sessions and audit name it
    groups: tuple[str, ...]
    roles: tuple[str, ...]  # role names this identity may assume (break-glass requests)
    claims: Mapping[str, str]  # the issuer's selected claims
    csrf: str  # the synchronizer token of this session
    sid: str  # names the session in audit events (principal access key id)
    expires: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebSession:
        return cls(
            subject=str(data["subject"]),
            issuer=str(data["issuer"]),
            groups=tuple(str(g) for g in data["groups"]),
            roles=tuple(str(r) for r in data["roles"]),
            claims={str(k): str(v) for k, v in dict(data["claims"]).items()},
            csrf=str(data["csrf"]),
            sid=str(data["sid"]),
            expires=float(data["expires"]),
        )


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    verifier: str = ""  # the PKCE code_verifier; never leaves the gateway
    expires: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoginState:
        return cls(
            str(data["state"]), str(data["nonce"]), str(data["verifier"]), float(data["expires"])
        )


class CookieSealer:
    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    def seal(self, name: str, value: WebSession | LoginState) -> str:
        plain = json.dumps(asdict(value), separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[self._active].encrypt(nonce, plain, name.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        text = f"{self._active}.{body}"
        if len(text) > MAX_COOKIE_CHARS:
            raise ValueError("too large for a cookie")
        return text

    def open(self, name: str, text: str | None, now: float) -> dict[str, Any] | None:
        """The sealed JSON, or None if absent, not ours, altered or expired."""
        if not text or len(text) > MAX_COOKIE_CHARS:
            return None
        kid, _, body = text.partition(".")
        aead = self._aeads.get(kid)
        if aead is None or not body:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            data = json.loads(aead.decrypt(raw[:_NONCE], raw[_NONCE:], name.encode()))
        except (binascii.Error, ValueError, InvalidTag):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("expires"), int | float):
            return None
        if now >= data["expires"]:
            return None
        return data

    def session(self, name: str, text: str | None, now: float) -> WebSession | None:
        data = self.open(name, text, now)
        try:
            return WebSession.from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    def login(self, name: str, text: str | None, now: float) -> LoginState | None:
        data = self.open(name, text, now)
        try:
            return LoginState.from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None
