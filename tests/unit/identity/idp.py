"""A test OIDC issuer: its own keys, discovery and JWKS over real HTTP on a
loopback port, counting fetches; plus token minting and forging helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from s3gate.identity.settings import IdentitySettings, IssuerSettings

AUDIENCE = "s3gate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class SigningKey:
    kid: str
    alg: str
    key: Key
    declare_alg: bool = False  # put "alg" in the published JWK

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig"}
        if self.declare_alg:
            jwk["alg"] = self.alg
        return jwk

    def public_pem(self) -> bytes:
        raw = self.key.public_key
        assert not isinstance(raw, bytes)
        return raw.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def make_key(alg: str, kid: str) -> SigningKey:
    key: Key
    if alg.startswith(("RS", "PS")):
        key = RSAKey.generate_key(2048)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256")
    elif alg == "ES384":
        key = ECKey.generate_key("P-384")
    else:
        key = OKPKey.generate_key("Ed25519")
    return SigningKey(kid=kid, alg=alg, key=key)


def sign(
    key: SigningKey, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None
) -> str:
    head = {"alg": key.alg, "kid": key.kid, **(header or {})}
    head = {k: v for k, v in head.items() if v is not None}
    with warnings.catch_warnings():  # joserfc warns about EdDSA when signing
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(head, dict(claims), key.key, algorithms=[head["alg"]])


def standard_claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": "alice",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "groups": ["analysts"],
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign_rs256_raw(key: SigningKey, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """RS256 over any header at all (joserfc refuses to produce some)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64json(header)}.{b64json(claims)}"
    assert isinstance(key.key, RSAKey)
    private = key.key.private_key
    assert private is not None
    sig = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(sig)}"


def forge_hs256(public_pem: bytes, claims: Mapping[str, Any], kid: str) -> str:
    """The classic confusion attack: HMAC "signed" with the RSA public key."""
    signing_input = f"{b64json({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{b64json(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def forge_none(claims: Mapping[str, Any], kid: str, signature: str = "") -> str:
    return f"{b64json({'alg': 'none', 'kid': kid})}.{b64json(claims)}.{signature}"


@dataclass
class FakeIdP:
    """Discovery + JWKS on http://127.0.0.1:<port>; `keys` is what is published."""

    keys: list[SigningKey] = field(default_factory=list)
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    discovery_issuer: str | None = None  # override the issuer the document names
    status: int = 200
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeIdP:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/keys", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        return web.json_response(
            {
                "issuer": self.discovery_issuer or self.issuer,
                "jwks_uri": f"{self.issuer}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response(self.jwks(), status=self.status)

    def token(self, key: SigningKey | None = None, **claims: Any) -> str:
        return sign(key or self.keys[0], standard_claims(self.issuer, **claims))

    def issuer_settings(self, name: str = "corp", **overrides: Any) -> IssuerSettings:
        values: dict[str, Any] = {
            "name": name,
            "issuer": self.issuer,
            "discovery": True,
            "audiences": [AUDIENCE],
        }
        values.update(overrides)
        return IssuerSettings(**values)


def identity(*issuers: IssuerSettings, **overrides: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "issuers": list(issuers),
        "jwks_min_refetch_seconds": 30,
        "http_timeout_seconds": 2,
    }
    values.update(overrides)
    return IdentitySettings(**values)


class Clock:
    """A monotonic clock the tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
