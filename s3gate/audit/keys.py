"""Ed25519 audit signing keys: generation, loading, ids, publication formats.

Key id (`kid`): the first 16 hex digits of the SHA-256 of the raw 32-byte
public key, so anyone can recompute it from the public key alone; the full
SHA-256 is the key's *fingerprint*, which auditors pin.

Files written by `s3gate keys generate --out DIR`:
`<kid>.private.pem` (PKCS#8, mode 0600), `<kid>.pem` (SubjectPublicKeyInfo)
and `<kid>.json` (JWK, RFC 8037). The same public PEM and JWK are published
in the audit bucket under `<prefix>/keys/` and at `GET /_s3gate/audit/keys`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from s3gate.audit import canonical


class KeyFileError(Exception):
    """A key file is missing, unreadable or not an Ed25519 key."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey
    raw: bytes

    @classmethod
    def of(cls, key: Ed25519PublicKey) -> PublicKey:
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(key, raw)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def kid(self) -> str:
        return self.fingerprint[:16]

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def jwk_bytes(self) -> bytes:
        return canonical.encode(self.jwk()) + b"\n"

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public: PublicKey

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> SigningKey:
        return cls(private, PublicKey.of(private.public_key()))

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def private_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate(out: Path) -> SigningKey:
    """Create a new key and write its three files into `out`."""
    key = SigningKey.of(Ed25519PrivateKey.generate())
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = out / f"{key.kid}.private.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_pem())
    (out / f"{key.kid}.pem").write_bytes(key.public.pem())
    (out / f"{key.kid}.json").write_bytes(key.public.jwk_bytes())
    return key


def load_private(path: Path) -> SigningKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable unencrypted private key PEM ({exc})") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return SigningKey.of(loaded)


def parse_public(data: bytes, name: str) -> PublicKey:
    """A public key from a public PEM, a private PEM (its public half) or a JWK."""
    text = data.strip()
    if text.startswith(b"{"):
        return _from_jwk(json.loads(text), name)
    try:
        if b"PRIVATE KEY" in text:
            private = serialization.load_pem_private_key(text, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return PublicKey.of(private.public_key())
        else:
            public = serialization.load_pem_public_key(text)
            if isinstance(public, Ed25519PublicKey):
                return PublicKey.of(public)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{name}: not a PEM key ({exc})") from exc
    raise KeyFileError(f"{name}: not an Ed25519 key")


def _from_jwk(jwk: Any, name: str) -> PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyFileError(f"{name}: not an Ed25519 JWK")
    try:
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        return PublicKey.of(Ed25519PublicKey.from_public_bytes(raw))
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{name}: bad JWK ({exc})") from exc


def load_public(path: Path) -> PublicKey:
    try:
        return parse_public(path.read_bytes(), str(path))
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from exc


def load_directory(directory: Path) -> dict[str, PublicKey]:
    """Every key in `*.pem` and `*.json` files of a directory, by kid."""
    found: dict[str, PublicKey] = {}
    if not directory.is_dir():
        raise KeyFileError(f"{directory}: not a directory")
    for path in sorted(directory.iterdir()):
        if path.suffix in (".pem", ".json"):
            key = load_public(path)
            found[key.kid] = key
    return found


@dataclass(frozen=True)
class KeyRing:
    """The active signing key and every public key still published."""

    active: SigningKey
    published: tuple[PublicKey, ...]

    @classmethod
    def load(cls, paths: tuple[Path, ...]) -> KeyRing:
        if not paths:
            raise KeyFileError("no audit signing key configured (audit.signing_keys)")
        active = load_private(paths[0])
        published = {active.kid: active.public}
        for path in paths[1:]:
            key = load_public(path)
            published.setdefault(key.kid, key)
        return cls(active, tuple(published.values()))

    def jwks(self) -> dict[str, Any]:
        return {"active_kid": self.active.kid, "keys": [k.jwk() for k in self.published]}

    def trusted(self) -> dict[str, PublicKey]:
        return {k.kid: k for k in self.published}


def dev_key(directory: Path) -> Path:
    """The development key in `directory`, created on first use."""
    existing = sorted(directory.glob("*.private.pem")) if directory.is_dir() else []
    if existing:
        return existing[0]
    key = generate(directory)
    return directory / f"{key.kid}.private.pem"
