"""The web page's sealed cookies: anything altered, expired, foreign or
swapped is refused (the caller is then simply not signed in)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from s3gate.approvers.web.cookies import MAX_COOKIE_CHARS, CookieSealer, LoginState, WebSession

SEALER = CookieSealer({"k1": b"\x01" * 32, "k0": b"\x00" * 32}, "k1")
NOW = 1_900_000_000.0
SESSION = WebSession(
    subject="sec-1",
    issuer="dev",
    groups=("security",),
    roles=("break-glass",),
    claims={"team": "alpha"},
    csrf="c" * 43,
    sid="0123456789abcdef",
    expires=NOW + 900,
)


def _flip(text: str, at: int) -> str:
    kid, _, body = text.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[at] ^= 0x01
    return f"{kid}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_round_trip() -> None:
    sealed = SEALER.seal("s", SESSION)
    assert SEALER.session("s", sealed, NOW) == SESSION
    assert "sec-1" not in sealed and "security" not in sealed  # sealed, not just signed


@pytest.mark.parametrize(
    ("name", "text", "now"),
    [
        ("s", None, NOW),
        ("s", "", NOW),
        ("s", "garbage", NOW),
        ("s", "k1.", NOW),
        ("s", "k9." + SEALER.seal("s", SESSION).partition(".")[2], NOW),  # unknown key id
        ("s", _flip(SEALER.seal("s", SESSION), 0), NOW),  # nonce altered
        ("s", _flip(SEALER.seal("s", SESSION), 20), NOW),  # ciphertext altered
        ("s", _flip(SEALER.seal("s", SESSION), -1), NOW),  # tag altered
        ("s", SEALER.seal("s", SESSION)[:-4], NOW),  # cut short
        ("other", SEALER.seal("s", SESSION), NOW),  # sealed for another cookie name
        ("s", SEALER.seal("s", SESSION), NOW + 900),  # expired (inside the seal)
        ("s", SEALER.seal("s", SESSION), NOW + 10_000),
        ("s", "k1." + "A" * (MAX_COOKIE_CHARS + 1), NOW),
    ],
)
def test_refused(name: str, text: str | None, now: float) -> None:
    assert SEALER.session(name, text, now) is None


def test_login_cookie_is_not_a_session() -> None:
    login = LoginState("s" * 43, "n" * 43, "v" * 43, NOW + 300)
    sealed = SEALER.seal("s", login)
    assert SEALER.login("s", sealed, NOW) == login
    assert SEALER.session("s", sealed, NOW) is None  # wrong shape


def test_other_keyring_cannot_open() -> None:
    other = CookieSealer({"k1": b"\x02" * 32}, "k1")
    assert other.session("s", SEALER.seal("s", SESSION), NOW) is None


def test_rotation_old_key_still_opens() -> None:
    old = CookieSealer({"k0": b"\x00" * 32}, "k0")
    assert SEALER.session("s", old.seal("s", SESSION), NOW) == SESSION


def test_too_large_identity_is_refused() -> None:
    big = replace(SESSION, groups=tuple(f"group-{i:04d}" for i in range(400)))
    with pytest.raises(ValueError):
        SEALER.seal("s", big)
