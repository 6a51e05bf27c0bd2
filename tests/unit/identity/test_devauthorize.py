"""The dev issuer's authorization code flow: what the authorization and
token endpoints refuse (hostile cases first), and the ID token it issues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3gate.identity import devissuer
from s3gate.identity.devauthorize import CODE_SECONDS, DevAuthorizer, s256
from s3gate.identity.jwks import JwksCache
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.settings import IdentitySettings

CLIENT = "web-client"
REDIRECT = "http://gw.test/_s3gate/approvals/callback"
VERIFIER = "v" * 43
GOOD: dict[str, str] = {
    "client_id": CLIENT,
    "redirect_uri": REDIRECT,
    "response_type": "code",
    "scope": "openid groups",
    "state": "s" * 20,
    "nonce": "n" * 20,
    "code_challenge": s256(VERIFIER),
    "code_challenge_method": "S256",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer(tmp_path: Path) -> devissuer.DevIssuer:
    return devissuer.load(tmp_path, devissuer.issuer_url("127.0.0.1", 9000))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authz(issuer: devissuer.DevIssuer, clock: Clock) -> DevAuthorizer:
    return DevAuthorizer(issuer, {CLIENT: REDIRECT}, clock=clock)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"client_id": "other"}, "unknown client_id"),
        ({"redirect_uri": REDIRECT + "x"}, "redirect_uri"),
        ({"redirect_uri": "http://evil.test/_s3gate/approvals/callback"}, "redirect_uri"),
        ({"response_type": "token"}, "response_type"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": ""}, "code_challenge"),
        ({"code_challenge": "short"}, "code_challenge"),
        ({"state": ""}, "state"),
        ({"nonce": ""}, "nonce"),
        ({"scope": "groups"}, "openid"),
    ],
)
def test_authorization_request_refused(
    authz: DevAuthorizer, change: dict[str, str], problem: str
) -> None:
    found = authz.check_request({**GOOD, **change})
    assert found is not None and problem in found


def test_good_authorization_request(authz: DevAuthorizer) -> None:
    assert authz.check_request(GOOD) is None


def _token_form(issued: str, **change: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": issued,
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    form.update(change)
    return form


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "w" * 43}, "PKCE"),  # the verifier of another sign-in
        ({"code_verifier": ""}, "PKCE"),
        ({"code_verifier": "v" * 42}, "PKCE"),  # too short to be a verifier
        ({"redirect_uri": REDIRECT + "/"}, "redirect_uri"),
        ({"client_id": "other"}, "another client"),
        ({"code": "made-up"}, "unknown or used"),
        ({"grant_type": "password"}, ""),
    ],
)
def test_token_request_refused(authz: DevAuthorizer, change: dict[str, str], error: str) -> None:
    code = authz.issue_code(GOOD, "sec-1", ("security",))
    status, body = authz.exchange(_token_form(code, **change))
    assert status == 400 and "id_token" not in body
    assert error in str(body.get("error_description", body["error"]))
    # A refused attempt used the code up: the right verifier now fails too.
    if "grant_type" not in change and "code" not in change:
        assert authz.exchange(_token_form(code))[0] == 400


def test_code_is_used_once(authz: DevAuthorizer) -> None:
    code = authz.issue_code(GOOD, "sec-1", ("security",))
    assert authz.exchange(_token_form(code))[0] == 200
    status, body = authz.exchange(_token_form(code))
    assert status == 400 and body["error"] == "invalid_grant" and "id_token" not in body


def test_code_expires(authz: DevAuthorizer, clock: Clock) -> None:
    code = authz.issue_code(GOOD, "sec-1", ("security",))
    clock.now += CODE_SECONDS
    status, body = authz.exchange(_token_form(code))
    assert status == 400 and "id_token" not in body


async def test_id_token_names_client_nonce_and_groups(
    authz: DevAuthorizer, issuer: devissuer.DevIssuer
) -> None:
    code = authz.issue_code(GOOD, "sec-1", ("security", "sre"))
    status, body = authz.exchange(_token_form(code))
    assert status == 200
    settings = issuer.issuer_settings().model_copy(update={"audiences": (CLIENT,)})
    identity = IdentitySettings(issuers=(settings,))
    validator = TokenValidator(identity, JwksCache(identity))
    who = await validator.validate(str(body["id_token"]))
    assert (who.subject, who.groups, who.audience) == ("sec-1", ("security", "sre"), CLIENT)
    assert who.raw["nonce"] == GOOD["nonce"]


def test_discovery_names_the_code_flow(issuer: devissuer.DevIssuer) -> None:
    meta: dict[str, Any] = issuer.discovery()
    assert meta["authorization_endpoint"] == f"{issuer.url}/authorize"
    assert meta["token_endpoint"] == f"{issuer.url}/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
