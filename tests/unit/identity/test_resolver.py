"""Access key id + optional session token → credential."""

from __future__ import annotations

import os

import pytest

from s3gate import errors
from s3gate.configbase import Secret
from s3gate.identity.resolver import CredentialResolver
from s3gate.identity.sessions import SessionGrant, SessionSealer
from s3gate.identity.settings import PrincipalSettings, StaticKey
from s3gate.identity.static_keys import StaticKeys

STATIC = StaticKeys(
    [
        StaticKey(
            access_key_id="AKIASTATIC0000000001",
            secret_access_key=Secret(value="static-secret"),
            principal=PrincipalSettings(name="ci", groups=("admins",)),
        )
    ]
)
GRANT = SessionGrant(
    issuer="dev",
    subject="alice",
    role="analyst",
    role_arn="arn:aws:iam::0:role/a",
    session_name="s",
)


def test_static_keys_still_work() -> None:
    resolver = CredentialResolver(STATIC, SessionSealer({"k": os.urandom(32)}, "k"))
    found = resolver.resolve("AKIASTATIC0000000001", None)
    assert found.secret == "static-secret"
    assert found.principal.source == "static"
    with pytest.raises(errors.InvalidAccessKeyId):
        resolver.resolve("AKIAUNKNOWN000000000", None)


def test_session_credentials() -> None:
    sealer = SessionSealer({"k": os.urandom(32)}, "k")
    creds = sealer.seal(GRANT, 900)
    resolver = CredentialResolver(STATIC, sealer)
    found = resolver.resolve(creds.access_key_id, creds.session_token)
    assert found.secret == creds.secret_access_key
    assert (found.principal.source, found.principal.role) == ("session", "analyst")
    # A session access key without its token is not a static key.
    with pytest.raises(errors.InvalidAccessKeyId):
        resolver.resolve(creds.access_key_id, None)
    # A static key with someone's session token is refused.
    with pytest.raises(errors.InvalidToken):
        resolver.resolve("AKIASTATIC0000000001", creds.session_token)


def test_tokens_refused_without_session_keys() -> None:
    resolver = CredentialResolver(STATIC)
    with pytest.raises(errors.InvalidToken):
        resolver.resolve("AKIASTATIC0000000001", "s3g1.k.AAAA")


def test_expired_session() -> None:
    now = [1_700_000_000.0]
    sealer = SessionSealer({"k": os.urandom(32)}, "k", clock=lambda: now[0])
    creds = sealer.seal(GRANT, 900)
    now[0] += 901
    with pytest.raises(errors.ExpiredToken):
        CredentialResolver(STATIC, sealer).resolve(creds.access_key_id, creds.session_token)


def _key(access_key_id: str) -> StaticKey:
    return StaticKey(
        access_key_id=access_key_id,
        secret_access_key=Secret(value="s"),
        principal=PrincipalSettings(name="p"),
    )


@pytest.mark.parametrize(
    "key_id",
    [
        "0555b35654ad1656d804",  # ceph/s3-tests' sample key: lower case
        "AKIAIOSFODNN7EXAMPLE",
        "MixedCase0123456",  # 16 characters: the shortest AWS allows
        "a" * 128,  # the longest
    ],
)
def test_static_key_ids_as_aws_allows(key_id: str) -> None:
    resolver = CredentialResolver(StaticKeys([_key(key_id)]))
    assert resolver.resolve(key_id, None).principal.access_key_id == key_id


@pytest.mark.parametrize(
    "key_id", ["short0123456789", "a" * 129, "AKIA-WITH-HYPHEN00", "AKIA_UNDERSCORE000", "é" * 16]
)
def test_static_key_ids_refused(key_id: str) -> None:
    with pytest.raises(ValueError, match="access_key_id"):
        _key(key_id)


def test_static_key_ids_keep_their_case() -> None:
    """Case is part of the id: the upper-cased form is another (unknown) key."""
    resolver = CredentialResolver(StaticKeys([_key("0555b35654ad1656d804")]))
    with pytest.raises(errors.InvalidAccessKeyId):
        resolver.resolve("0555B35654AD1656D804", None)
