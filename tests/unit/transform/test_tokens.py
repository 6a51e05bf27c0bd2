"""The `tokenize` operator's token format, pinned: HMAC-SHA256 under the
key, its first 130 bits in lower-case base32 exactly as `base64.b32encode`
spells them (the engine encodes them itself, for speed: issue 13)."""

from __future__ import annotations

import base64
import hmac
import random

import pytest

from s3gate.transform.tokenkeys import TokenKeys, _base32_130

KEY_BYTES = {"k1": b"k" * 32, "k2": b"j" * 32}
TOKEN_CASES = [
    ("alice@example.com", "k1"),
    ("", "k1"),
    ("+14155550132", "k2"),
    ("ünïcode ✓", "k1"),
    ("\udcff lone surrogate", "k2"),
]


@pytest.mark.parametrize(("value", "kid"), TOKEN_CASES)
def test_token_is_base32_of_the_hmac(value: str, kid: str) -> None:
    keys = TokenKeys(KEY_BYTES, active="k1")
    message = b"s3gate-mask-token-v1\x00" + value.encode("utf-8", "surrogatepass")
    mac = hmac.digest(KEY_BYTES[kid], message, "sha256")
    expected = f"tok_{kid}_" + base64.b32encode(mac[:17]).decode().lower()[:26]
    assert keys.token(value, kid) == expected


def test_encoding_matches_base64_on_random_macs() -> None:
    rng = random.Random("token-base32")
    for mac in [bytes(32), b"\xff" * 32, *(rng.randbytes(32) for _ in range(2000))]:
        assert _base32_130(mac) == base64.b32encode(mac[:17]).decode().lower()[:26]
