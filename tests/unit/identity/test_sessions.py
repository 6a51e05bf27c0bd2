"""Sealed session tokens: round trip, refusal of every kind of tampering,
expiry, access-key binding, key rotation and the bounded LRU."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets

import pytest

from s3gate import errors
from s3gate.config import ConfigError
from s3gate.identity.sessions import MAX_TOKEN_CHARS, SessionGrant, SessionSealer
from s3gate.identity.settings import IdentitySettings
from tests.unit.identity.idp import Clock

GRANT = SessionGrant(
    issuer="dev",
    subject="alice",
    role="analyst",
    role_arn="arn:aws:iam::000000000000:role/analyst",
    session_name="notebook",
    groups=("analysts", "ml"),
    claims={"email": "alice@example.com"},
)
K1, K2 = os.urandom(32), os.urandom(32)


def sealer(keys: dict[str, bytes] | None = None, active: str = "k1", **kw: object) -> SessionSealer:
    return SessionSealer(keys or {"k1": K1}, active, **kw)  # type: ignore[arg-type]


def test_round_trip() -> None:
    clock = Clock(1_700_000_000)
    box = sealer(clock=clock)
    creds = box.seal(GRANT, 3600)
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds.access_key_id)
    assert len(creds.secret_access_key) == 40
    assert creds.session_token.startswith("s3g1.k1.")
    assert creds.expiration.timestamp() == 1_700_000_000 + 3600
    got = box.open(creds.session_token, creds.access_key_id)
    assert got.secret == creds.secret_access_key
    p = got.principal
    assert (p.source, p.subject, p.issuer, p.role, p.role_arn, p.session_name) == (
        "session",
        "alice",
        "dev",
        "analyst",
        GRANT.role_arn,
        "notebook",
    )
    assert p.groups == ("analysts", "ml")
    assert dict(p.claims) == {"email": "alice@example.com"}
    assert p.access_key_id == creds.access_key_id
    assert p.expires == creds.expiration
    # Secrets are kept out of reprs.
    assert creds.secret_access_key not in repr(creds) and creds.session_token not in repr(creds)
    assert got.secret not in repr(got)


def test_another_replica_with_the_same_keys_opens_it() -> None:
    creds = sealer().seal(GRANT, 900)
    assert sealer().open(creds.session_token, creds.access_key_id).principal.subject == "alice"


def _flip(token: str, index: int) -> str:
    c = token[index]
    return token[:index] + ("A" if c != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: _flip(t, len(t) // 2),  # ciphertext
        lambda t: _flip(t, len("s3g1.k1.") + 2),  # salt
        lambda t: _flip(t, len(t) - 3),  # tag
        lambda t: t[:-4],  # truncated
        lambda t: t.replace("s3g1.", "s3g2.", 1),  # version
        lambda t: t.replace(".k1.", ".k9.", 1),  # unknown key id
        lambda t: t.replace(".k1.", ".k2.", 1),  # another known key: AAD and key differ
        lambda t: t + "=",
        lambda t: "s3g1.k1",
        lambda t: "",
        lambda t: "s3g1.k1.!!!!",
        lambda t: "s3g1.k1." + base64.urlsafe_b64encode(b"short").decode(),
        lambda t: t + "é",
        lambda t: "s3g1.k1." + "A" * MAX_TOKEN_CHARS,
    ],
)
def test_tampered_tokens_are_invalid(mangle: object) -> None:
    box = sealer({"k1": K1, "k2": K2})
    creds = box.seal(GRANT, 900)
    with pytest.raises(errors.InvalidToken):
        box.open(mangle(creds.session_token), creds.access_key_id)  # type: ignore[operator]


def test_swapped_access_key_is_refused_cached_or_not() -> None:
    box = sealer()
    a, b = box.seal(GRANT, 900), box.seal(GRANT, 900)
    with pytest.raises(errors.InvalidToken):
        box.open(a.session_token, b.access_key_id)  # not yet cached
    box.open(a.session_token, a.access_key_id)  # now cached
    with pytest.raises(errors.InvalidToken):
        box.open(a.session_token, b.access_key_id)
    with pytest.raises(errors.InvalidToken):
        box.open(a.session_token, "AKIASTATICKEY0000000")


def test_expiry_is_checked_on_every_use() -> None:
    clock = Clock(1_700_000_000)
    box = sealer(clock=clock)
    creds = box.seal(GRANT, 900)
    box.open(creds.session_token, creds.access_key_id)  # cached now
    clock.advance(899)
    box.open(creds.session_token, creds.access_key_id)
    clock.advance(1)
    with pytest.raises(errors.ExpiredToken):
        box.open(creds.session_token, creds.access_key_id)
    assert box.cache_len() == 0  # an expired session leaves the cache
    with pytest.raises(errors.ExpiredToken):
        box.open(creds.session_token, creds.access_key_id)


def test_key_rotation() -> None:
    old = sealer({"k1": K1}, "k1")
    before = old.seal(GRANT, 900)
    # Roll out k2 as an opening key first, then make it the sealing key.
    rotated = sealer({"k1": K1, "k2": K2}, "k2")
    after = rotated.seal(GRANT, 900)
    assert after.session_token.startswith("s3g1.k2.")
    assert rotated.open(before.session_token, before.access_key_id).principal.subject == "alice"
    assert rotated.open(after.session_token, after.access_key_id).principal.subject == "alice"
    # A replica that only knows k1 cannot open k2 sessions …
    with pytest.raises(errors.InvalidToken):
        old.open(after.session_token, after.access_key_id)
    # … and once k1 is retired, its sessions are refused.
    retired = sealer({"k2": K2}, "k2")
    with pytest.raises(errors.InvalidToken):
        retired.open(before.session_token, before.access_key_id)


def test_cache_is_bounded_lru() -> None:
    box = sealer(cache_size=3)
    tokens = [box.seal(GRANT, 900) for _ in range(10)]
    for creds in tokens:
        box.open(creds.session_token, creds.access_key_id)
    assert box.cache_len() == 3
    # Recently used entries stay: touch the oldest survivor, add one more.
    box.open(tokens[7].session_token, tokens[7].access_key_id)
    extra = box.seal(GRANT, 900)
    box.open(extra.session_token, extra.access_key_id)
    assert box.cache_len() == 3
    keys = list(box._cache)  # which entries survived
    digest = hashlib.sha256(tokens[7].session_token.encode()).digest()
    assert digest in keys
    assert all(tokens[7].session_token.encode() not in k for k in keys)  # hashes, not tokens


def test_cache_disabled() -> None:
    box = sealer(cache_size=0)
    creds = box.seal(GRANT, 900)
    box.open(creds.session_token, creds.access_key_id)
    assert box.cache_len() == 0


def test_tokens_differ_for_equal_grants() -> None:
    box = sealer()
    a, b = box.seal(GRANT, 900), box.seal(GRANT, 900)
    assert a.session_token != b.session_token
    assert a.access_key_id != b.access_key_id


def test_from_settings() -> None:
    assert SessionSealer.from_settings(IdentitySettings()) is None
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    settings = IdentitySettings(
        session_keys=[
            {"id": "a", "secret": {"value": key}},
            {"id": "b", "secret": {"value": base64.urlsafe_b64encode(K2).decode().rstrip("=")}},
        ],
        active_session_key="b",
    )
    box = SessionSealer.from_settings(settings)
    assert box is not None
    assert box.seal(GRANT, 900).session_token.startswith("s3g1.b.")


def test_short_key_is_a_config_error() -> None:
    settings = IdentitySettings(
        session_keys=[{"id": "a", "secret": {"value": base64.b64encode(b"short").decode()}}],
        active_session_key="a",
    )
    assert settings.secret_problems() == [
        "identity.session_keys.0.secret: session key 'a' must be 32 bytes "
        "(base64 of 32 random bytes), got 5"
    ]
    with pytest.raises(ConfigError):
        SessionSealer.from_settings(settings)
