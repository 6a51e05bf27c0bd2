"""Web identity token validation against an issuer served over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from s3gate.identity.jwks import JwksCache
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.settings import IdentitySettings, IssuerSettings
from s3gate.identity.sts_errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    InvalidIdentityToken,
    StsError,
)
from tests.unit.identity.idp import (
    AUDIENCE,
    Clock,
    FakeIdP,
    SigningKey,
    b64json,
    forge_hs256,
    forge_none,
    free_port,
    identity,
    make_key,
    sign,
    sign_rs256_raw,
    standard_claims,
)

Keys = dict[str, SigningKey]


def validator(settings: IdentitySettings, clock: Clock | None = None) -> TokenValidator:
    cache = JwksCache(settings, clock=clock) if clock is not None else JwksCache(settings)
    return TokenValidator(settings, cache)


def _tamper_payload(token: str) -> str:
    head, _, sig = token.split(".")
    claims = standard_claims("x")
    return f"{head}.{b64json({**claims, 'sub': 'mallory'})}.{sig}"


def _tamper_signature(token: str) -> str:
    head, body, sig = token.split(".")
    middle = len(sig) // 2
    flipped = "A" if sig[middle] != "A" else "B"
    return f"{head}.{body}.{sig[:middle]}{flipped}{sig[middle + 1 :]}"


def _payload_from(idp: FakeIdP, token: str) -> str:
    # Keep the signature but swap the payload for one naming this issuer.
    head, _, sig = token.split(".")
    return f"{head}.{b64json(standard_claims(idp.issuer, sub='mallory'))}.{sig}"


@dataclass
class Case:
    name: str
    build: Callable[[FakeIdP, Keys], str]
    error: type[StsError]
    issuer: dict[str, Any] = field(default_factory=dict)


def _now() -> int:
    """Read when a case runs: collected minutes earlier in a long suite."""
    return int(time.time())


NEGATIVE = [
    Case("expired", lambda i, k: i.token(exp=_now() - 120), ExpiredTokenException),
    Case("no exp", lambda i, k: i.token(exp=None), InvalidIdentityToken),
    Case("not yet valid", lambda i, k: i.token(nbf=_now() + 600), InvalidIdentityToken),
    Case("issued in the future", lambda i, k: i.token(iat=_now() + 600), InvalidIdentityToken),
    Case(
        "iat too old",
        lambda i, k: i.token(iat=_now() - 7200),
        ExpiredTokenException,
        {"max_token_age_seconds": 3600},
    ),
    Case(
        "no iat with max age",
        lambda i, k: i.token(iat=None),
        InvalidIdentityToken,
        {"max_token_age_seconds": 3600},
    ),
    Case("wrong issuer", lambda i, k: i.token(iss="https://evil.example"), InvalidIdentityToken),
    Case("issuer with slash", lambda i, k: i.token(iss=i.issuer + "/"), InvalidIdentityToken),
    Case("wrong audience", lambda i, k: i.token(aud="someone-else"), InvalidIdentityToken),
    Case("audience list without ours", lambda i, k: i.token(aud=["a", "b"]), InvalidIdentityToken),
    Case("no audience", lambda i, k: i.token(aud=None), InvalidIdentityToken),
    Case("exp not a number", lambda i, k: i.token(exp="tomorrow"), InvalidIdentityToken),
    Case(
        "alg none, empty signature",
        lambda i, k: forge_none(standard_claims(i.issuer), "rsa-1"),
        InvalidIdentityToken,
    ),
    Case(
        "alg none, some signature",
        lambda i, k: forge_none(standard_claims(i.issuer), "rsa-1", "c2ln"),
        InvalidIdentityToken,
    ),
    Case(
        "HS256 signed with the RSA public key",
        lambda i, k: forge_hs256(k["rsa1"].public_pem(), standard_claims(i.issuer), "rsa-1"),
        InvalidIdentityToken,
    ),
    Case("tampered payload", lambda i, k: _payload_from(i, i.token()), InvalidIdentityToken),
    Case("tampered signature", lambda i, k: _tamper_signature(i.token()), InvalidIdentityToken),
    Case(
        "signed by a key the issuer never published",
        lambda i, k: sign(k["rsa2"], standard_claims(i.issuer), {"kid": "rsa-1"}),
        InvalidIdentityToken,
    ),
    Case(
        "ES256 header on an RSA kid",
        lambda i, k: sign(k["ec"], standard_claims(i.issuer), {"kid": "rsa-1"}),
        InvalidIdentityToken,
    ),
    Case(
        "algorithm not in the allow-list",
        lambda i, k: i.token(k["ec"]),
        InvalidIdentityToken,
        {"algorithms": ["RS256"]},
    ),
    Case(
        "crit header",
        lambda i, k: sign_rs256_raw(
            k["rsa1"],
            {"alg": "RS256", "kid": "rsa-1", "crit": ["x-ext"], "x-ext": 1},
            standard_claims(i.issuer),
        ),
        InvalidIdentityToken,
    ),
    Case(
        "unencoded payload (b64)",
        lambda i, k: sign_rs256_raw(
            k["rsa1"], {"alg": "RS256", "kid": "rsa-1", "b64": True}, standard_claims(i.issuer)
        ),
        InvalidIdentityToken,
    ),
    Case(
        "unknown header parameters are tolerated, but not with a bad signature",
        lambda i, k: _tamper_signature(
            sign_rs256_raw(k["rsa1"], {"alg": "RS256", "kid": "rsa-1", "x-ext": 1}, {})
        ),
        InvalidIdentityToken,
    ),
    Case("not a JWT", lambda i, k: "not-a-token", InvalidIdentityToken),
    Case(
        "JWE shape (five parts)",
        lambda i, k: "eyJhbGciOiJSU0EtT0FFUCJ9.aaaa.bbbb.cccc.dddd",
        InvalidIdentityToken,
    ),
    Case(
        "header not JSON",
        lambda i, k: "bm90IGpzb24." + i.token().split(".", 1)[1],
        InvalidIdentityToken,
    ),
    Case(
        "oversized",
        lambda i, k: i.token(padding="x" * 20000),
        InvalidIdentityToken,
    ),
]


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda c: c.name)
async def test_refused(case: Case, idp: FakeIdP, keys: Keys) -> None:
    settings = identity(idp.issuer_settings(**case.issuer))
    check = validator(settings)
    token = case.build(idp, keys)
    try:
        with pytest.raises(case.error) as raised:
            await check.validate(token)
    finally:
        await check.close()
    # Fixed texts: nothing about the token, its claims or key ids.
    message = raised.value.message
    assert message == case.error.default_message
    signature = token.split(".")[-1]
    for secret in (token, signature or token, "rsa-1", "alice", idp.issuer):
        assert secret not in message


@pytest.mark.parametrize("key_name", ["rsa1", "ec", "ed"])
async def test_accepts_each_algorithm(key_name: str, idp: FakeIdP, keys: Keys) -> None:
    check = validator(identity(idp.issuer_settings()))
    who = await check.validate(idp.token(keys[key_name]))
    await check.close()
    assert (who.issuer, who.subject, who.groups, who.audience) == (
        "corp",
        "alice",
        ("analysts",),
        AUDIENCE,
    )
    assert who.issuer_url == idp.issuer


async def test_unregistered_header_parameters_are_tolerated(idp: FakeIdP, keys: Keys) -> None:
    header = {"alg": "RS256", "kid": "rsa-1", "typ": "JWT", "x-vendor": "1"}
    check = validator(identity(idp.issuer_settings()))
    who = await check.validate(sign_rs256_raw(keys["rsa1"], header, standard_claims(idp.issuer)))
    await check.close()
    assert who.subject == "alice"


async def test_leeway_accepts_recently_expired(idp: FakeIdP) -> None:
    check = validator(identity(idp.issuer_settings(leeway_seconds=60)))
    who = await check.validate(idp.token(exp=int(time.time()) - 20))
    await check.close()
    assert who.subject == "alice"


async def test_audience_list_containing_ours(idp: FakeIdP) -> None:
    check = validator(identity(idp.issuer_settings(audiences=["other", AUDIENCE])))
    who = await check.validate(idp.token(aud=["x", AUDIENCE]))
    await check.close()
    assert who.audience == AUDIENCE


async def test_hmac_refused_even_if_configuration_was_bypassed(idp: FakeIdP, keys: Keys) -> None:
    # model_construct skips validation: the validator still never runs HMAC.
    issuer = idp.issuer_settings().model_copy(update={"algorithms": ("HS256", "RS256")})
    check = validator(identity(issuer))
    token = forge_hs256(keys["rsa1"].public_pem(), standard_claims(idp.issuer), "rsa-1")
    with pytest.raises(InvalidIdentityToken):
        await check.validate(token)
    await check.close()
    assert idp.jwks_fetches == 0  # refused before any key was looked up


async def test_oversized_token_is_refused_unread(idp: FakeIdP) -> None:
    check = validator(identity(idp.issuer_settings(), max_token_bytes=1024))
    with pytest.raises(InvalidIdentityToken):
        await check.validate(idp.token(padding="x" * 2000))
    await check.close()
    assert idp.jwks_fetches == idp.discovery_fetches == 0


async def test_key_declaring_its_alg_is_not_used_for_another(idp: FakeIdP, keys: Keys) -> None:
    pinned = SigningKey("pinned", "RS256", keys["rsa2"].key, declare_alg=True)
    idp.keys.append(pinned)
    check = validator(identity(idp.issuer_settings(algorithms=["RS256", "PS256"])))
    assert (await check.validate(idp.token(pinned))).subject == "alice"
    ps256 = SigningKey("pinned", "PS256", keys["rsa2"].key)
    with pytest.raises(InvalidIdentityToken):
        await check.validate(idp.token(ps256))
    await check.close()


async def test_unknown_kid_refetch_is_rate_limited(idp: FakeIdP, keys: Keys) -> None:
    clock = Clock()
    settings = identity(idp.issuer_settings(), jwks_min_refetch_seconds=30)
    check = validator(settings, clock)
    stranger = SigningKey("nobody", "RS256", keys["rsa2"].key)
    await check.validate(idp.token())
    assert idp.jwks_fetches == 1
    with pytest.raises(InvalidIdentityToken):
        await check.validate(idp.token(stranger))
    assert idp.jwks_fetches == 1  # the keys were fetched just now: no refetch yet
    clock.advance(30)
    with pytest.raises(InvalidIdentityToken):
        await check.validate(idp.token(stranger))
    assert idp.jwks_fetches == 2  # one refetch for the unknown kid
    clock.advance(29)
    for _ in range(5):
        with pytest.raises(InvalidIdentityToken):
            await check.validate(idp.token(stranger))
    assert idp.jwks_fetches == 2  # within the minimum interval: no more
    clock.advance(2)
    with pytest.raises(InvalidIdentityToken):
        await check.validate(idp.token(stranger))
    assert idp.jwks_fetches == 3
    await check.close()


async def test_key_rotation(idp: FakeIdP, keys: Keys) -> None:
    clock = Clock()
    check = validator(identity(idp.issuer_settings(), jwks_cache_seconds=300), clock)
    old_token = idp.token(keys["rsa1"])
    assert (await check.validate(old_token)).subject == "alice"
    # The issuer publishes a new key and starts signing with it.
    idp.keys.append(keys["rsa2"])
    clock.advance(31)
    new_token = idp.token(keys["rsa2"])
    assert (await check.validate(new_token)).subject == "alice"
    assert idp.jwks_fetches == 2
    # Tokens signed with the old key keep working while it is published.
    assert (await check.validate(old_token)).subject == "alice"
    # The old key is withdrawn: once the cache lifetime is over, its tokens fail.
    idp.keys.remove(keys["rsa1"])
    clock.advance(300)
    with pytest.raises(InvalidIdentityToken):
        await check.validate(old_token)
    assert (await check.validate(new_token)).subject == "alice"
    await check.close()


async def test_cache_lifetime(idp: FakeIdP) -> None:
    clock = Clock()
    check = validator(identity(idp.issuer_settings(), jwks_cache_seconds=300), clock)
    for _ in range(3):
        await check.validate(idp.token())
    assert (idp.discovery_fetches, idp.jwks_fetches) == (1, 1)
    clock.advance(301)
    await check.validate(idp.token())
    assert (idp.discovery_fetches, idp.jwks_fetches) == (2, 2)
    await check.close()


async def test_concurrent_cold_requests_share_one_fetch(idp: FakeIdP) -> None:
    check = validator(identity(idp.issuer_settings()))
    results = await asyncio.gather(*(check.validate(idp.token()) for _ in range(20)))
    await check.close()
    assert len(results) == 20
    assert idp.jwks_fetches == 1


async def test_unreachable_issuer_fails_fast() -> None:
    port = free_port()  # nothing listens there
    issuer = IssuerSettings(
        name="down", issuer=f"http://127.0.0.1:{port}", discovery=True, audiences=[AUDIENCE]
    )
    check = validator(identity(issuer))
    token = sign(make_key("EdDSA", "k"), standard_claims(issuer.issuer))
    started = time.monotonic()
    with pytest.raises(IDPCommunicationError) as raised:
        await check.validate(token)
    # And again without waiting: the failure is remembered briefly.
    with pytest.raises(IDPCommunicationError):
        await check.validate(token)
    await check.close()
    assert time.monotonic() - started < 2
    assert str(port) not in raised.value.message


async def test_silent_issuer_times_out() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    issuer = IssuerSettings(
        name="slow", issuer=f"http://127.0.0.1:{port}", discovery=True, audiences=[AUDIENCE]
    )
    check = validator(identity(issuer, http_timeout_seconds=0.5))
    token = sign(make_key("EdDSA", "k"), standard_claims(issuer.issuer))
    started = time.monotonic()
    with pytest.raises(IDPCommunicationError):
        await check.validate(token)
    elapsed = time.monotonic() - started
    await check.close()
    server.close()
    assert 0.4 < elapsed < 3


async def test_issuer_down_after_cache_expiry_fails_closed(idp: FakeIdP) -> None:
    clock = Clock()
    check = validator(identity(idp.issuer_settings(), jwks_cache_seconds=300), clock)
    await check.validate(idp.token())
    idp.status = 503
    clock.advance(301)
    with pytest.raises(IDPCommunicationError):
        await check.validate(idp.token())
    idp.status = 200
    clock.advance(6)  # past the failure back-off
    assert (await check.validate(idp.token())).subject == "alice"
    await check.close()


async def test_discovery_naming_another_issuer_is_refused(idp: FakeIdP) -> None:
    idp.discovery_issuer = "https://impostor.example"
    check = validator(identity(idp.issuer_settings()))
    with pytest.raises(IDPCommunicationError):
        await check.validate(idp.token())
    await check.close()
    assert idp.jwks_fetches == 0


async def test_jwks_uri_without_discovery(idp: FakeIdP) -> None:
    issuer = idp.issuer_settings(discovery=False, jwks_uri=f"{idp.issuer}/keys")
    check = validator(identity(issuer))
    assert (await check.validate(idp.token())).subject == "alice"
    await check.close()
    assert (idp.discovery_fetches, idp.jwks_fetches) == (0, 1)


async def test_jwks_file_and_token_without_kid(tmp_path: Path, keys: Keys) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [keys["ed"].public_jwk()]}))
    issuer = IssuerSettings(
        name="file", issuer="https://cluster.example", jwks_file=path, audiences=[AUDIENCE]
    )
    check = validator(identity(issuer))
    claims = standard_claims(issuer.issuer)
    # No kid, one key that fits: unambiguous.
    assert (await check.validate(sign(keys["ed"], claims, {"kid": None}))).subject == "alice"
    await check.close()


async def test_missing_jwks_file_is_a_communication_error(tmp_path: Path, keys: Keys) -> None:
    issuer = IssuerSettings(
        name="file",
        issuer="https://cluster.example",
        jwks_file=tmp_path / "absent.json",
        audiences=[AUDIENCE],
    )
    check = validator(identity(issuer))
    with pytest.raises(IDPCommunicationError):
        await check.validate(sign(keys["ed"], standard_claims(issuer.issuer)))
    await check.close()


async def test_each_issuer_is_judged_by_its_own_keys(idp: FakeIdP, keys: Keys) -> None:
    other = await FakeIdP(keys=[keys["rsa2"]]).start()
    try:
        check = validator(identity(idp.issuer_settings(), other.issuer_settings("other")))
        assert (await check.validate(other.token())).issuer == "other"
        # A token naming `other` but signed with a key only `corp` publishes.
        forged = sign(keys["rsa1"], standard_claims(other.issuer), {"kid": "rsa-2"})
        with pytest.raises(InvalidIdentityToken):
            await check.validate(forged)
        await check.close()
    finally:
        await other.stop()


@pytest.mark.filterwarnings("ignore:Key size should be")
async def test_small_rsa_keys_and_symmetric_keys_are_ignored(tmp_path: Path) -> None:
    from joserfc.jwk import OctKey, RSAKey

    weak = RSAKey.generate_key(1024, private=True)
    octet = OctKey.generate_key(256)
    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {**weak.as_dict(private=False), "kid": "weak"},
                    {**octet.as_dict(private=True), "kid": "oct"},
                ]
            }
        )
    )
    issuer = IssuerSettings(
        name="file", issuer="https://weak.example", jwks_file=path, audiences=[AUDIENCE]
    )
    check = validator(identity(issuer))
    token = sign(SigningKey("weak", "RS256", weak), standard_claims(issuer.issuer))
    with pytest.raises(InvalidIdentityToken):
        await check.validate(token)
    await check.close()
