"""Signing an approver in: the OIDC authorization code flow with PKCE (S256).

1. `begin`: fresh `state`, `nonce` and code verifier (256 random bits each),
   kept in the sealed login cookie; the browser goes to the issuer's
   authorization endpoint with the S256 challenge of the verifier.
2. `finish`: the callback's `state` must equal the cookie's (constant time);
   the code is exchanged at the token endpoint with the verifier, over a
   back channel (the ID token never passes through the browser or a URL);
   the ID token is validated by the same validator as web identity tokens
   (issuer, signature via the issuer's JWKS, algorithm allow-list, exp/nbf),
   with the client id as the only audience, then its `nonce` must equal the
   cookie's (constant time).

Every refusal is `SignInFailed` with a fixed message; why is logged at debug.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from s3gate import errors
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web.cookies import LoginState
from s3gate.identity.claims import WebIdentity
from s3gate.identity.jwks import JwksCache
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.settings import IdentitySettings, IssuerSettings
from s3gate.identity.sts_errors import StsError

log = logging.getLogger("s3gate.approvers.web")
MAX_RESPONSE_BYTES = 64 * 1024


def challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ascii(verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str


class SignIn:
    def __init__(
        self,
        settings: ApprovalSettings,
        identity: IdentitySettings,
        keys: JwksCache | None = None,
    ) -> None:
        self.settings = settings
        found = [i for i in identity.issuers if i.name == settings.web_issuer]
        if not found:
            raise ValueError(f"approvals.web_issuer {settings.web_issuer!r} is not an issuer")
        assert settings.web_client_id is not None
        self.client_id = settings.web_client_id
        self.issuer: IssuerSettings = found[0].model_copy(
            update={"audiences": (settings.web_client_id,)}
        )
        own = identity.model_copy(update={"issuers": (self.issuer,)})
        self.validator = TokenValidator(own, keys if keys is not None else JwksCache(identity))
        self._endpoints: Endpoints | None = None
        if settings.web_authorization_endpoint and settings.web_token_endpoint:
            self._endpoints = Endpoints(
                settings.web_authorization_endpoint, settings.web_token_endpoint
            )
        self._http: aiohttp.ClientSession | None = None

    @staticmethod
    def new_login(now: float, seconds: int) -> LoginState:
        return LoginState(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(32),  # 43 characters, the RFC's minimum length
            expires=now + seconds,
        )

    async def authorize_url(self, login: LoginState) -> str:
        endpoints = await self.endpoints()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.settings.web_redirect_url,
                "scope": " ".join(self.settings.web_scopes),
                "state": login.state,
                "nonce": login.nonce,
                "code_challenge": challenge(login.verifier),
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in endpoints.authorization else "?"
        return f"{endpoints.authorization}{sep}{query}"

    async def finish(self, login: LoginState, state: str, code: str) -> WebIdentity:
        if not state or not secrets.compare_digest(state.encode(), login.state.encode()):
            raise self._fail("state differs from the one sent")
        if not code or len(code) > 2048:
            raise self._fail("no usable code")
        endpoints = await self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.web_redirect_url or "",
            "client_id": self.client_id,
            "code_verifier": login.verifier,
        }
        if self.settings.web_client_secret is not None:
            form["client_secret"] = self.settings.web_client_secret.resolve()
        answer = await self._post(endpoints.token, form)
        token = answer.get("id_token")
        if not isinstance(token, str):
            raise self._fail("the token endpoint sent no id_token")
        try:
            who = await self.validator.validate(token)
        except StsError as exc:
            raise self._fail(f"ID token refused ({exc.code})") from None
        nonce = who.raw.get("nonce")
        if not isinstance(nonce, str) or not secrets.compare_digest(
            nonce.encode(), login.nonce.encode()
        ):
            raise self._fail("nonce differs from the one sent")
        aud = who.raw.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and who.raw.get("azp") != self.client_id:
            raise self._fail("several audiences and azp is not our client id")
        return who

    async def endpoints(self) -> Endpoints:
        """The configured endpoints, else the issuer's discovery document's."""
        if self._endpoints is None:
            meta = await self._get(self.issuer.discovery_url)
            if meta.get("issuer") != self.issuer.issuer:
                raise self._fail("discovery document names another issuer")
            auth, token = meta.get("authorization_endpoint"), meta.get("token_endpoint")
            if not isinstance(auth, str) or not isinstance(token, str):
                raise self._fail("discovery document lacks the code flow's endpoints")
            self._endpoints = Endpoints(auth, token)
        return self._endpoints

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        await self.validator.close()

    # -- HTTP -----------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10), headers={"Accept": "application/json"}
            )
        return self._http

    async def _get(self, url: str) -> Mapping[str, Any]:
        try:
            async with self._session().get(url, allow_redirects=False) as resp:
                return await self._json(resp)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._fail(f"{url}: {type(exc).__name__}") from None

    async def _post(self, url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            async with self._session().post(url, data=dict(form), allow_redirects=False) as resp:
                return await self._json(resp)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._fail(f"{url}: {type(exc).__name__}") from None

    async def _json(self, resp: aiohttp.ClientResponse) -> Mapping[str, Any]:
        body = bytearray()
        async for chunk in resp.content.iter_chunked(16 * 1024):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise self._fail("answer too large")
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if resp.status != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            raise self._fail(f"HTTP {resp.status} {str(error)[:100]}")
        return data

    @staticmethod
    def _fail(reason: str) -> errors.SignInFailed:
        log.debug("approvals web sign-in refused: %s", reason)
        return errors.SignInFailed()
