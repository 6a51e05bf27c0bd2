"""The development issuer: persistent keys, discovery and JWKS routes, tokens
the gateway accepts, and the `s3gate dev token` helper."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.routing import Route

from s3gate.identity import devissuer
from s3gate.identity.jwks import JwksCache
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.sessions import SessionSealer
from s3gate.identity.settings import IdentitySettings
from s3gate.identity.sts import StsService
from s3gate.identity.sts_errors import InvalidIdentityToken

REPO_ROLES = Path(__file__).resolve().parents[3] / "policies" / "roles.yaml"


def test_key_is_created_once_and_private(tmp_path: Path) -> None:
    first = devissuer.load(tmp_path, devissuer.issuer_url("127.0.0.1", 9100))
    key_file = devissuer.folder(tmp_path) / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(devissuer.folder(tmp_path).stat().st_mode) == 0o700
    second = devissuer.load(tmp_path)
    assert second.kid == first.kid
    assert second.url == "http://127.0.0.1:9100/_s3gate/dev-oidc"  # recorded by the gateway
    published = json.loads(first.jwks_file.read_text())
    assert published == first.jwks()
    assert all("d" not in k for k in published["keys"])  # public only


async def test_routes(tmp_path: Path) -> None:
    issuer = devissuer.load(tmp_path, devissuer.issuer_url("127.0.0.1", 9000))
    routes = {r.path: r for r in issuer.routes() if isinstance(r, Route)}
    assert set(routes) == {
        "/_s3gate/dev-oidc/.well-known/openid-configuration",
        "/_s3gate/dev-oidc/jwks.json",
    }
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    discovery = await routes["/_s3gate/dev-oidc/.well-known/openid-configuration"].endpoint(request)
    doc = json.loads(discovery.body)
    assert doc["issuer"] == issuer.url
    assert doc["jwks_uri"] == issuer.url + "/jwks.json"
    jwks = await routes["/_s3gate/dev-oidc/jwks.json"].endpoint(request)
    assert json.loads(jwks.body) == issuer.jwks()


async def test_tokens_validate_and_exchange(tmp_path: Path) -> None:
    overrides = devissuer.identity_overrides(tmp_path, "127.0.0.1", 9000, REPO_ROLES)
    settings = IdentitySettings(**overrides)
    assert settings.issuers[0].jwks_file is not None  # never calls itself over HTTP
    assert settings.secret_problems() == []
    key_file = tmp_path / "dev" / "session-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealer = SessionSealer.from_settings(settings)
    assert sealer is not None
    service = StsService.from_settings(settings, sealer)
    token = devissuer.cli_token(tmp_path, "alice", ["analysts,ml"], "15m", claims=["team=alpha"])
    result = await service.assume_role_with_web_identity(
        {
            "RoleArn": "arn:aws:iam::000000000000:role/analyst",
            "RoleSessionName": "alice",
            "WebIdentityToken": token,
        }
    )
    assert result.principal.groups == ("analysts", "ml")
    assert result.principal.issuer == "dev"
    assert dict(result.principal.claims) == {"team": "alpha"}  # selected by the dev issuer
    await service.close()


async def test_wrong_audience_and_foreign_dev_keys(tmp_path: Path) -> None:
    mine = devissuer.load(tmp_path / "a", devissuer.issuer_url("127.0.0.1", 9000))
    theirs = devissuer.load(tmp_path / "b", devissuer.issuer_url("127.0.0.1", 9000))
    settings = IdentitySettings(issuers=[mine.issuer_settings()])
    check = TokenValidator(settings, JwksCache(settings))
    assert (await check.validate(mine.mint_token("bob"))).subject == "bob"
    with pytest.raises(InvalidIdentityToken):
        await check.validate(mine.mint_token("bob", audience="other"))
    with pytest.raises(InvalidIdentityToken):  # another data folder's key
        await check.validate(theirs.mint_token("bob"))
    await check.close()


def test_dev_issuer_only_allows_its_algorithm(tmp_path: Path) -> None:
    issuer = devissuer.load(tmp_path)
    assert issuer.issuer_settings().algorithms == ("Ed25519",)


@pytest.mark.parametrize(
    ("text", "seconds"), [("900", 900), ("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400)]
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert devissuer.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-5", "0", "2d", "1.5h"])
def test_parse_ttl_refusals(text: str) -> None:
    with pytest.raises(ValueError):
        devissuer.parse_ttl(text)


def test_ipv6_issuer_url() -> None:
    assert devissuer.issuer_url("::1", 9000) == "http://[::1]:9000/_s3gate/dev-oidc"


@pytest.mark.parametrize("item", ["team", "=x", "sub=bob", "exp=1"])
def test_claim_refusals(item: str) -> None:
    with pytest.raises(ValueError):
        devissuer.parse_claims([item])


def test_banner_example_mentions_the_team_prefix(tmp_path: Path) -> None:
    lines = devissuer.example_lines(tmp_path, "127.0.0.1", 9000)
    assert any("--claim team=alpha" in line for line in lines)
    assert any("s3://traces/alpha/" in line for line in lines)
