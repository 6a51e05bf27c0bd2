"""Web identity tokens (OIDC ID tokens, Kubernetes service-account tokens) →
a validated `WebIdentity`.

Order of checks, cheapest and most dangerous first: size and shape; the issuer
named by the (not yet trusted) `iss`, which selects the only configuration the
token may be judged by; the JWS `alg` against that issuer's allow-list, before
any key is touched (so `none`, and HMAC "signed" with a public key, never reach
a verifier); the key by `kid` from our own cache (never from `jku`, `x5u` or an
embedded `jwk`); the signature (joserfc); then `iss`, `aud`, `exp`, `nbf`,
`iat` with leeway (joserfc's claims registry) and the maximum token age.

Every refusal is one of the STS exceptions with a fixed message; the reason is
logged at debug level, without the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import Key
from joserfc.jws import JWSRegistry

from s3gate.identity.claims import WebIdentity, map_claims
from s3gate.identity.jwks import JwksCache
from s3gate.identity.settings import IdentitySettings, IssuerSettings
from s3gate.identity.sts_errors import ExpiredTokenException, InvalidIdentityToken

log = logging.getLogger("s3gate.identity")

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_HEADER_CHARS = 4096
MAX_KID_CHARS = 256


def _never(alg: str) -> bool:
    # Independent of configuration: even a hand-built IssuerSettings that
    # skipped validation cannot enable these.
    return alg.lower() == "none" or alg.upper().startswith("HS")


class _AllowList(JWSRegistry):
    """A JWS registry that knows exactly the algorithms it was given.

    joserfc's default registry warns about EdDSA on every use; here the
    operator has chosen the algorithms, so the check is membership only.
    Unregistered header parameters are tolerated (IdPs add their own), but
    `crit` is still enforced by joserfc.
    """

    max_header_length = MAX_HEADER_CHARS

    def get_alg(self, name: str) -> JWSAlgModel:
        if not self.allowed or name not in self.allowed or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


def _b64json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return None


def _numeric(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


class TokenValidator:
    def __init__(
        self,
        settings: IdentitySettings,
        keys: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._by_iss = {i.issuer: i for i in settings.issuers}
        self.keys = keys if keys is not None else JwksCache(settings)
        self._clock = clock
        self._registries = {
            i.name: _AllowList(algorithms=list(i.algorithms), strict_check_header=False)
            for i in settings.issuers
        }

    async def validate(self, token: str) -> WebIdentity:
        """The identity a token speaks for, or an STS exception."""
        token = token.strip()  # token files often end with a newline
        if len(token) > self._settings.max_token_bytes or not _COMPACT_JWS.fullmatch(token):
            # Also refuses JWE (five parts) and unsigned JWS (empty signature).
            raise self._refuse(None, "not a compact JWS within the size limit")
        head, body, _ = token.split(".")
        header = _b64json(head) if len(head) <= MAX_HEADER_CHARS else None
        unverified = _b64json(body)
        if not isinstance(header, dict) or not isinstance(unverified, dict):
            raise self._refuse(None, "header or payload is not a JSON object")
        iss = unverified.get("iss")
        issuer = self._by_iss.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise self._refuse(None, f"no issuer configured for iss {str(iss)[:200]!r}")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or _never(alg) or alg not in issuer.algorithms:
            raise self._refuse(issuer, f"algorithm {str(alg)[:20]!r} not allowed")
        if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
            raise self._refuse(issuer, "malformed kid")
        if "crit" in header or "b64" in header:
            # No JWS extension is needed for ID tokens; refusing them keeps
            # the payload we inspected the payload that is verified.
            raise self._refuse(issuer, "JWS extensions (crit, b64) are not accepted")
        key = await self.keys.key_for(issuer, kid, alg)
        if key is None:
            raise self._refuse(issuer, f"no {alg} key with kid {kid!r}, even after a refetch")
        claims = self._verify(issuer, token, key, alg)
        audience = self._check_claims(issuer, claims)
        return map_claims(issuer, claims, audience)

    async def close(self) -> None:
        await self.keys.close()

    def _verify(self, issuer: IssuerSettings, token: str, key: Key, alg: str) -> dict[str, Any]:
        try:
            verified = jwt.decode(
                token, key, algorithms=[alg], registry=self._registries[issuer.name]
            )
        except JoseError as exc:
            raise self._refuse(issuer, f"signature not verified ({exc.error})") from None
        except (ValueError, TypeError) as exc:  # malformed signature encodings
            raise self._refuse(issuer, f"signature not verified ({type(exc).__name__})") from None
        return verified.claims

    def _check_claims(self, issuer: IssuerSettings, claims: Mapping[str, Any]) -> str:
        now = int(self._clock())
        leeway = issuer.leeway_seconds
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=leeway,
            iss={"essential": True, "value": issuer.issuer},
            aud={"essential": True, "values": list(issuer.audiences)},
            exp={"essential": True},
        )
        try:
            registry.validate(dict(claims))
        except ExpiredTokenError:
            raise self._expired(issuer, "exp has passed") from None
        except JoseError as exc:
            raise self._refuse(issuer, f"claims refused ({exc.error}: {exc.description})") from None
        if issuer.max_token_age_seconds is not None:
            iat = claims.get("iat")
            if not _numeric(iat):
                raise self._refuse(issuer, "no iat, but a maximum token age is configured")
            if now - iat > issuer.max_token_age_seconds + leeway:
                raise self._expired(issuer, "issued longer ago than max_token_age_seconds")
        aud = claims["aud"]
        given = [aud] if isinstance(aud, str) else aud
        return next(a for a in issuer.audiences if a in given)

    @staticmethod
    def _refuse(issuer: IssuerSettings | None, reason: str) -> InvalidIdentityToken:
        name = issuer.name if issuer is not None else "-"
        log.debug("web identity token of issuer %s refused: %s", name, reason)
        return InvalidIdentityToken()

    @staticmethod
    def _expired(issuer: IssuerSettings, reason: str) -> ExpiredTokenException:
        log.debug("web identity token of issuer %s refused: %s", issuer.name, reason)
        return ExpiredTokenException()
