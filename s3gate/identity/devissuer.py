"""The development OIDC issuer of `s3gate dev`.

An Ed25519 key generated at first start and kept in `<data_dir>/dev/oidc/`
(private key 0600, never printed), a discovery document and JWKS served under
`/_s3gate/dev-oidc/`, and `mint_token` for `s3gate dev token`. The gateway
checks these tokens like any other issuer's, but reads the public JWKS from
the file it was written to rather than over HTTP from itself.

Nothing here is reachable from `s3gate serve`: the routes and the issuer
settings exist only where `devmode` adds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import OKPKey
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from s3gate.identity.settings import IssuerSettings

NAME = "dev"
AUDIENCE = "s3gate"
PATH = "/_s3gate/dev-oidc"
# The fully specified EdDSA name (RFC 9864): the dev issuer allows only it.
ALG = "Ed25519"
SESSION_KEY_ID = "dev1"
# The approvals web page's client id at the dev issuer (its ID tokens' audience).
WEB_CLIENT_ID = "s3gate-approvals"
SELECTED_CLAIMS = ("team", "email")
_TTL = re.compile(r"([0-9]+)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TTL_SECONDS = 86400
_RESERVED = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "groups"})


def folder(data_dir: Path) -> Path:
    return data_dir / "dev" / "oidc"


def issuer_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{PATH}"


def _create_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Write `path` whole or not at all, unless it already exists: a second
    process starting at the same moment (`s3gate dev token` beside the
    gateway) reads the first one's key instead of replacing it."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass(frozen=True)
class DevIssuer:
    url: str
    key: OKPKey
    jwks_file: Path

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "use": "sig", "alg": ALG, "kid": self.kid}]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            # The code flow (devauthorize.py) for the approvals web page.
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["none"],
            "id_token_signing_alg_values_supported": [ALG],
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "aud", "exp", "iat", "nbf", "iss", "groups", "nonce"],
        }

    def mint_token(
        self,
        sub: str,
        groups: Iterable[str] = (),
        ttl: int = 3600,
        audience: str = AUDIENCE,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": sub,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(8),
            "groups": list(groups),
            **(extra or {}),
        }
        header = {"alg": ALG, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=[ALG])

    def issuer_settings(self) -> IssuerSettings:
        return IssuerSettings(
            name=NAME,
            issuer=self.url,
            jwks_file=self.jwks_file,
            audiences=(AUDIENCE,),
            algorithms=(ALG,),
            groups_claim="groups",
            # The example trace-writer policy keys a writer's prefix on it.
            selected_claims=SELECTED_CLAIMS,
        )

    def routes(self) -> list[BaseRoute]:
        async def discovery(request: Request) -> Response:
            return JSONResponse(self.discovery())

        async def jwks(request: Request) -> Response:
            return JSONResponse(self.jwks())

        return [
            Route(f"{PATH}/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route(f"{PATH}/jwks.json", jwks, methods=["GET"]),
        ]


def load(data_dir: Path, url: str | None = None) -> DevIssuer:
    """The dev issuer of a data folder, its key created on first use. `url`
    is recorded for `s3gate dev token`; without it, the recorded one is used
    (or the default 127.0.0.1:9000)."""
    where = folder(data_dir)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file = where / "signing-key.pem"
    if not key_file.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _create_exclusive(key_file, pem, 0o600)
    key = OKPKey.import_key(key_file.read_bytes())
    key.ensure_kid()  # RFC 7638 thumbprint
    record = where / "issuer.json"
    if url is not None:
        _write_public(record, json.dumps({"issuer": url}).encode() + b"\n")
    elif record.exists():
        url = str(json.loads(record.read_text())["issuer"])
    else:
        url = issuer_url("127.0.0.1", 9000)
    issuer = DevIssuer(url=url, key=key, jwks_file=where / "jwks.json")
    public = json.dumps(issuer.jwks(), indent=2).encode() + b"\n"
    if not issuer.jwks_file.exists() or issuer.jwks_file.read_bytes() != public:
        _write_public(issuer.jwks_file, public)
    return issuer


def session_key_file(data_dir: Path) -> Path:
    """The dev session-sealing key (base64 of 32 random bytes, 0600)."""
    path = data_dir / "dev" / "session-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_exclusive(path, secrets.token_urlsafe(32).encode() + b"\n", 0o600)
    return path


def identity_overrides(data_dir: Path, host: str, port: int, roles_file: Path) -> dict[str, Any]:
    """The `identity:` settings of `s3gate dev` (for `config.load` overrides)."""
    issuer = load(data_dir, issuer_url(host, port))
    settings = issuer.issuer_settings()
    return {
        "issuers": [settings.model_dump(mode="json", exclude_defaults=True)],
        "session_keys": [
            {"id": SESSION_KEY_ID, "secret": {"file": str(session_key_file(data_dir))}}
        ],
        "active_session_key": SESSION_KEY_ID,
        "roles_file": str(roles_file),
    }


def example_lines(data_dir: Path, host: str, port: int) -> list[str]:
    """A ready-to-paste web-identity session for the `s3gate dev` banner: the
    SDK exchanges the token at the gateway's STS by itself."""
    token_file = data_dir / "dev" / "agent-1.jwt"
    endpoint = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    return [
        f"s3gate dev token --data-dir {data_dir} --sub agent-1 --groups trace-writers "
        f"--claim team=alpha > {token_file}",
        "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \\",
        f"  AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION=us-east-1 \\",
        f"  AWS_WEB_IDENTITY_TOKEN_FILE={token_file} \\",
        "  AWS_ROLE_ARN=arn:aws:iam::000000000000:role/trace-writer \\",
        "  aws s3 cp README.md s3://traces/alpha/agent-1/hello.md",
    ]


def parse_ttl(text: str) -> int:
    """`900`, `90s`, `15m`, `1h`, `1d` → seconds (at most a day)."""
    found = _TTL.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"invalid ttl {text!r}: use e.g. 900, 15m, 1h")
    seconds = int(found[1]) * _UNITS[found[2]]
    if not 1 <= seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be between 1 second and {MAX_TTL_SECONDS // 3600} hours")
    return seconds


def parse_claims(items: Iterable[str]) -> dict[str, str]:
    """`name=value` pairs → extra claims; registered claims stay ours."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"invalid claim {item!r}: use name=value, e.g. team=alpha")
        if name in _RESERVED:
            raise ValueError(f"claim {name!r} is set by the issuer")
        out[name] = value
    return out


def cli_token(
    data_dir: Path,
    sub: str,
    groups: Iterable[str] = (),
    ttl: str = "1h",
    audience: str = AUDIENCE,
    claims: Iterable[str] = (),
) -> str:
    """`s3gate dev token`: a signed token for the gateway of this data folder.
    `groups` items may be comma-separated; `claims` are `name=value`."""
    names = [g.strip() for item in groups for g in item.split(",") if g.strip()]
    extra = parse_claims(claims)
    return load(data_dir).mint_token(sub, names, parse_ttl(ttl), audience, extra)
