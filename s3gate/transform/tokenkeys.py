"""Token keys for the `tokenize` operator: keyed HMAC-SHA256, so equal values
give equal tokens under one key (analysts can join and count) and nobody
without the key can confirm a guess.

A token names its key id, `tok_<kid>_<26 base32 chars>` (130 bits), so after
a rotation old and new tokens are told apart; `tokens_for` gives a value's
token under every key for re-linking during a rotation window.

Key material is JSON, from a Secret (file or environment):
    {"active": "k2", "keys": {"k2": "<base64, ≥ 32 bytes>", "k1": "…"}}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

MIN_KEY_BYTES = 32
TOKEN_CHARS = 26
KID = re.compile(r"^[a-z0-9]{1,8}$")
# Domain separation: these keys never sign anything else.
_CONTEXT = b"s3gate-mask-token-v1\x00"


class TokenKeyError(ValueError):
    """Token key material is missing or malformed (never shows the key)."""


class TokenKeys:
    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys:
            raise TokenKeyError("no token keys")
        for kid, key in keys.items():
            if not KID.match(kid):
                raise TokenKeyError(f"token key id {kid!r} must be 1-8 of [a-z0-9]")
            if len(key) < MIN_KEY_BYTES:
                raise TokenKeyError(f"token key {kid} is shorter than {MIN_KEY_BYTES} bytes")
        if active not in keys:
            raise TokenKeyError(f"active token key {active!r} is not among the keys")
        self._keys = dict(keys)
        self.active = active
        # Fingerprint for caches: changes whenever any key or the active id does.
        digest = hashlib.sha256(active.encode())
        for kid in sorted(keys):
            digest.update(kid.encode() + b"\x00" + hashlib.sha256(keys[kid]).digest())
        self.fingerprint = digest.hexdigest()[:16]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def token(self, value: str, kid: str | None = None) -> str:
        kid = kid or self.active
        # One-shot HMAC (C, no object); 17 bytes hold the 130 bits shown.
        mac = hmac.digest(
            self._keys[kid], _CONTEXT + value.encode("utf-8", "surrogatepass"), "sha256"
        )
        return f"tok_{kid}_{_base32_130(mac)}"

    def tokens_for(self, value: str) -> dict[str, str]:
        return {kid: self.token(value, kid) for kid in self.kids}

    @classmethod
    def from_json(cls, text: str) -> TokenKeys:
        try:
            data = json.loads(text)
            active = data["active"]
            raw = data["keys"]
            if not isinstance(active, str) or not isinstance(raw, dict):
                raise TypeError
            keys = {str(kid): base64.b64decode(value, validate=True) for kid, value in raw.items()}
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise TokenKeyError(
                'token keys must be JSON {"active": KID, "keys": {KID: BASE64}}'
            ) from exc
        return cls(keys, active)

    def __repr__(self) -> str:  # never the key material
        return f"TokenKeys(active={self.active!r}, kids={self.kids!r})"


# The first 130 bits of a MAC in lower-case RFC 4648 base32, exactly what
# `base64.b32encode(mac[:17]).lower()[:26]` gives, ten bits (two characters)
# per table lookup: base64's base32 is Python code and cost a dense trace
# 3% of its masking time (issue 13).
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS = tuple(a + b for a in _B32 for b in _B32)
_SHIFTS = tuple(range(10 * (TOKEN_CHARS // 2 - 1), -1, -10))


def _base32_130(mac: bytes) -> str:
    bits = int.from_bytes(mac[:17], "big") >> (17 * 8 - 5 * TOKEN_CHARS)
    return "".join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])


def new_key() -> str:
    """Fresh key material, base64, as the key file holds it."""
    return base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode()


def generate_json(kid: str = "dev1") -> str:
    return json.dumps({"active": kid, "keys": {kid: new_key()}})


def dev_keys(path: Path) -> TokenKeys:
    """The development token keys at `path`, created (0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(generate_json() + "\n")
    return TokenKeys.from_json(path.read_text())
