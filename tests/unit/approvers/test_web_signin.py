"""The gateway's side of the code flow against the dev issuer's endpoints
(called in-process): state, PKCE verifier, audience and nonce are each
checked, and every refusal is SignInFailed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from s3gate import errors
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web.cookies import LoginState
from s3gate.approvers.web.signin import SignIn, challenge
from s3gate.identity import devissuer
from s3gate.identity.devauthorize import DevAuthorizer
from s3gate.identity.settings import IdentitySettings

CLIENT = "s3gate-approvals"
REDIRECT = "http://gw.test/_s3gate/approvals/callback"


class InProcess(SignIn):
    """SignIn whose token request goes straight to a DevAuthorizer."""

    authorizer: DevAuthorizer

    async def _post(self, url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        status, body = self.authorizer.exchange(form)
        if status != 200:
            raise self._fail(str(body))
        return body


def _signin(tmp_path: Path, client_for_token: str = CLIENT) -> tuple[InProcess, DevAuthorizer]:
    issuer = devissuer.load(tmp_path, devissuer.issuer_url("127.0.0.1", 9000))
    settings = ApprovalSettings(
        web_issuer="dev",
        web_client_id=CLIENT,
        web_redirect_url=REDIRECT,
        web_authorization_endpoint=f"{issuer.url}/authorize",
        web_token_endpoint=f"{issuer.url}/token",
    )
    signin = InProcess(settings, IdentitySettings(issuers=(issuer.issuer_settings(),)))
    signin.authorizer = DevAuthorizer(issuer, {client_for_token: REDIRECT})
    return signin, signin.authorizer


async def _code(signin: SignIn, authz: DevAuthorizer, login: LoginState) -> str:
    """What the browser does at the issuer: follow the authorize URL, sign in."""
    url = await signin.authorize_url(login)
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["code_challenge"] == challenge(login.verifier)
    assert params["code_challenge_method"] == "S256"
    assert login.verifier not in url  # only the challenge travels
    assert authz.check_request(params) is None
    return authz.issue_code(params, "sec-1", ("security",))


async def test_sign_in(tmp_path: Path) -> None:
    signin, authz = _signin(tmp_path)
    login = SignIn.new_login(0.0, 300)
    who = await signin.finish(login, login.state, await _code(signin, authz, login))
    assert (who.subject, who.issuer, who.groups, who.audience) == (
        "sec-1",
        "dev",
        ("security",),
        CLIENT,
    )


async def test_state_must_match(tmp_path: Path) -> None:
    signin, authz = _signin(tmp_path)
    login = SignIn.new_login(0.0, 300)
    code = await _code(signin, authz, login)
    for state in ("", "x" * 43, login.state + "x"):
        with pytest.raises(errors.SignInFailed):
            await signin.finish(login, state, code)


async def test_verifier_of_another_sign_in_is_refused(tmp_path: Path) -> None:
    signin, authz = _signin(tmp_path)
    first, second = SignIn.new_login(0.0, 300), SignIn.new_login(0.0, 300)
    code = await _code(signin, authz, first)
    # The code of the first sign-in, brought back with the second's state
    # and (so) the second's verifier.
    with pytest.raises(errors.SignInFailed):
        await signin.finish(second, second.state, code)


async def test_code_reused(tmp_path: Path) -> None:
    signin, authz = _signin(tmp_path)
    login = SignIn.new_login(0.0, 300)
    code = await _code(signin, authz, login)
    await signin.finish(login, login.state, code)
    with pytest.raises(errors.SignInFailed):
        await signin.finish(login, login.state, code)


async def test_nonce_must_match(tmp_path: Path) -> None:
    signin, authz = _signin(tmp_path)
    login = SignIn.new_login(0.0, 300)
    code = await _code(signin, authz, login)
    other = LoginState(login.state, "another-nonce-" + "n" * 30, login.verifier, login.expires)
    with pytest.raises(errors.SignInFailed):
        await signin.finish(other, login.state, code)


async def test_token_for_another_audience_is_refused(tmp_path: Path) -> None:
    """An ID token the issuer made for another client (here the STS audience)
    does not sign anyone in to the page."""
    signin, authz = _signin(tmp_path)
    login = SignIn.new_login(0.0, 300)
    code = await _code(signin, authz, login)
    token = authz.issuer.mint_token(
        "sec-1", ["security"], audience=devissuer.AUDIENCE, extra={"nonce": login.nonce}
    )

    async def forged(url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        return {"id_token": token}

    signin._post = forged  # type: ignore[method-assign]
    with pytest.raises(errors.SignInFailed):
        await signin.finish(login, login.state, code)


def test_settings_must_be_complete() -> None:
    with pytest.raises(ValueError, match="web_issuer"):
        ApprovalSettings(web_client_id=CLIENT)
    with pytest.raises(ValueError, match="callback"):
        ApprovalSettings(web_issuer="dev", web_client_id=CLIENT, web_redirect_url="http://gw/x")


def test_unknown_issuer_is_a_configuration_error(tmp_path: Path) -> None:
    settings = ApprovalSettings(web_issuer="nope", web_client_id=CLIENT, web_redirect_url=REDIRECT)
    with pytest.raises(ValueError, match="nope"):
        SignIn(settings, IdentitySettings())
