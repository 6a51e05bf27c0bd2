"""Identity settings refuse what would weaken token validation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from s3gate.identity.settings import DEFAULT_ALGORITHMS, IdentitySettings, IssuerSettings

BASE: dict[str, Any] = {
    "name": "corp",
    "issuer": "https://idp.example",
    "discovery": True,
    "audiences": ["s3gate"],
}


def test_defaults() -> None:
    issuer = IssuerSettings(**BASE)
    assert issuer.algorithms == DEFAULT_ALGORITHMS
    assert (issuer.subject_claim, issuer.groups_claim, issuer.leeway_seconds) == (
        "sub",
        "groups",
        60,
    )
    assert issuer.discovery_url == "https://idp.example/.well-known/openid-configuration"
    settings = IdentitySettings()
    assert settings.max_token_bytes == 16 * 1024
    assert (settings.jwks_cache_seconds, settings.jwks_min_refetch_seconds) == (300, 30)
    assert settings.http_timeout_seconds == 5
    assert settings.default_session_seconds == 3600
    assert not settings.sts_enabled


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"algorithms": ["none"]}, "never accepted"),
        ({"algorithms": ["RS256", "HS256"]}, "never accepted"),
        ({"algorithms": ["hs512"]}, "never accepted"),
        ({"algorithms": ["RSA-OAEP"]}, "not supported"),
        ({"algorithms": []}, "at least one"),
        ({"audiences": []}, "audiences"),
        ({"discovery": False}, "exactly one"),
        ({"jwks_uri": "https://idp.example/keys"}, "exactly one"),
        ({"discovery": False, "jwks_uri": "ftp://idp.example/keys"}, "http(s) URL"),
        ({"discovery": False, "jwks_uri": "http://idp.example/keys"}, "uses http"),
        ({"issuer": "http://idp.example"}, "uses http"),
        ({"name": "Has Spaces"}, "name"),
        ({"selected_claims": ["with space"]}, "claim path"),
        ({"leeway_seconds": 3600}, "leeway_seconds"),
    ],
)
def test_issuer_refusals(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as raised:
        IssuerSettings(**{**BASE, **overrides})
    assert fragment in str(raised.value)


def test_http_allowed_for_loopback_or_when_asked() -> None:
    IssuerSettings(**{**BASE, "issuer": "http://127.0.0.1:8080"})
    IssuerSettings(**{**BASE, "issuer": "http://localhost:8080"})
    IssuerSettings(**{**BASE, "issuer": "http://idp.internal", "insecure_http": True})


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"issuers": [BASE, BASE]}, "unique"),
        ({"issuers": [BASE, {**BASE, "name": "other"}]}, "same issuer"),
        ({"session_keys": [{"id": "a", "secret": {"value": "x"}}]}, "active_session_key"),
        (
            {"session_keys": [{"id": "a", "secret": {"value": "x"}}], "active_session_key": "b"},
            "not a session key",
        ),
        (
            {
                "session_keys": [
                    {"id": "a", "secret": {"value": "x"}},
                    {"id": "a", "secret": {"value": "y"}},
                ],
                "active_session_key": "a",
            },
            "unique",
        ),
        ({"default_session_seconds": 60}, "default_session_seconds"),
        ({"max_token_bytes": 100000}, "max_token_bytes"),
    ],
)
def test_identity_refusals(values: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as raised:
        IdentitySettings(**values)
    assert fragment in str(raised.value)


def test_secret_problems_never_show_the_secret() -> None:
    settings = IdentitySettings(
        session_keys=[{"id": "a", "secret": {"value": "not*base64*at*all"}}],
        active_session_key="a",
    )
    problems = settings.secret_problems()
    assert problems == ["identity.session_keys.0.secret: session key 'a' is not valid base64"]
    assert "not*base64" not in problems[0]
