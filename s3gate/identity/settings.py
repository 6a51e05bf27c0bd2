"""Settings of the identity layer (`identity:` in the YAML file).

Which OIDC issuers are trusted, how their tokens are checked and mapped to a
principal, and the keys that seal STS session tokens. Everything that would
weaken token validation is refused here, at start-up, rather than at the first
request: `none` and HMAC algorithms, an issuer without an audience, an issuer
whose keys come from nowhere or from two places at once.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from s3gate.configbase import ConfigError, Secret, Section

SESSION_KEY_BYTES = 32

# Asymmetric JWS algorithms joserfc implements. HMAC (HS*) is never offered:
# with a public JWKS it would let anyone who has the public key "sign" tokens.
SUPPORTED_ALGORITHMS = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "Ed25519",
    }
)
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")

# Claim paths: dotted, as in `realm_access.roles`; keys may contain dots
# themselves (`kubernetes.io`), see claims.lookup.
_CLAIM_PATH = r"^[^\s]{1,256}$"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, what: str, insecure_http: bool) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL")
    # Plain HTTP would let anyone on the path swap the keys that tokens are
    # checked with; allowed for loopback (tests, sidecars) or when asked for.
    if parts.scheme == "http" and not (insecure_http or _is_loopback(parts.hostname)):
        raise ValueError(f"{what} uses http: use https, or set insecure_http: true")


class IssuerSettings(Section):
    """One trusted OIDC issuer and how its tokens map to a principal."""

    # Short name used by the roles file and in audit (`dev`, `kubernetes`, …).
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    # The exact `iss` string of its tokens (compared byte for byte).
    issuer: str = Field(min_length=1, max_length=2048)
    # Where the signing keys come from: exactly one of the three.
    discovery: bool = False  # <issuer>/.well-known/openid-configuration → jwks_uri
    jwks_uri: str | None = None
    jwks_file: Path | None = None
    ca_bundle: Path | None = None  # extra CA for the issuer's TLS (in-cluster)
    insecure_http: bool = False
    # A token must name at least one of these in `aud`.
    audiences: tuple[str, ...] = Field(min_length=1)
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    subject_claim: str = Field(default="sub", pattern=_CLAIM_PATH)
    groups_claim: str | None = Field(default="groups", pattern=_CLAIM_PATH)
    # Kubernetes projected service-account tokens: adds the groups
    # `system:serviceaccounts` and `system:serviceaccounts:<namespace>`.
    kubernetes: bool = False
    # Claims copied onto the principal (for policy and audit), by path.
    selected_claims: tuple[str, ...] = ()
    leeway_seconds: int = Field(default=60, ge=0, le=600)
    # Refuse tokens issued longer ago than this (needs `iat`); None: no limit.
    max_token_age_seconds: int | None = Field(default=None, ge=60)

    @field_validator("algorithms")
    @classmethod
    def _safe_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one algorithm")
        for alg in value:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise ValueError(f"algorithm {alg!r} is never accepted (unsigned or HMAC)")
            if alg not in SUPPORTED_ALGORITHMS:
                supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
                raise ValueError(f"algorithm {alg!r} is not supported (supported: {supported})")
        return value

    @field_validator("selected_claims")
    @classmethod
    def _claim_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path or len(path) > 256 or any(c.isspace() for c in path):
                raise ValueError(f"invalid claim path {path!r}")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> IssuerSettings:
        sources = [self.discovery, self.jwks_uri is not None, self.jwks_file is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of discovery: true, jwks_uri, jwks_file")
        if self.discovery:
            _check_url(self.issuer, "issuer (with discovery)", self.insecure_http)
        if self.jwks_uri is not None:
            _check_url(self.jwks_uri, "jwks_uri", self.insecure_http)
        return self

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class SessionKey(Section):
    """A key that seals (if active) and opens STS session tokens."""

    # Travels in clear in every session token: short, URL-safe.
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # 32 random bytes, base64: `openssl rand -base64 32`.
    secret: Secret

    def key_bytes(self) -> bytes:
        # Standard or URL-safe alphabet, padding optional. The text itself is
        # never part of an error message.
        text = self.secret.resolve().strip().replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(f"session key {self.id!r} is not valid base64") from exc
        if len(raw) != SESSION_KEY_BYTES:
            raise ConfigError(
                f"session key {self.id!r} must be {SESSION_KEY_BYTES} bytes "
                f"(base64 of 32 random bytes), got {len(raw)}"
            )
        return raw


class IdentitySettings(Section):
    issuers: tuple[IssuerSettings, ...] = ()
    # Web identity tokens larger than this are refused unread (STS: 20000).
    max_token_bytes: int = Field(default=16 * 1024, ge=1024, le=20000)
    jwks_cache_seconds: int = Field(default=300, ge=1)
    # An unknown `kid` triggers a refetch at most this often per issuer, so a
    # flood of made-up key ids cannot turn the gateway against the issuer.
    jwks_min_refetch_seconds: int = Field(default=30, ge=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Session sealing: all keys open, the active one seals. No keys: STS off.
    session_keys: tuple[SessionKey, ...] = ()
    active_session_key: str | None = None
    # Opened sessions kept in memory (LRU), so that S3 requests skip the AEAD.
    session_cache_size: int = Field(default=10000, ge=0)
    # None: the policy directory's `roles.yaml`, loaded and reloaded with the
    # policy bundle. A path here is read once at start-up instead.
    roles_file: Path | None = None
    default_session_seconds: int = Field(default=3600, ge=900, le=43200)

    @model_validator(mode="after")
    def _consistent(self) -> IdentitySettings:
        names = [i.name for i in self.issuers]
        if len(set(names)) != len(names):
            raise ValueError("issuer names must be unique")
        iss = [i.issuer for i in self.issuers]
        if len(set(iss)) != len(iss):
            raise ValueError("two issuers have the same issuer string")
        ids = [k.id for k in self.session_keys]
        if len(set(ids)) != len(ids):
            raise ValueError("session key ids must be unique")
        if self.session_keys and self.active_session_key is None:
            raise ValueError("active_session_key: name the session key that seals")
        if self.active_session_key is not None and self.active_session_key not in ids:
            raise ValueError(f"active_session_key {self.active_session_key!r} is not a session key")
        return self

    @property
    def sts_enabled(self) -> bool:
        return bool(self.session_keys)

    def secret_problems(self, prefix: str = "identity") -> list[str]:
        """Resolve every session key once so a missing or short one fails at
        start-up; one line per problem, naming the key path."""
        problems = []
        for i, key in enumerate(self.session_keys):
            try:
                key.key_bytes()
            except ConfigError as exc:
                problems.append(f"{prefix}.session_keys.{i}.secret: {exc}")
        return problems


# ---- Static keys (`static_keys:` at the top level of the YAML file) -----------
# Long-lived access keys of service accounts; `identity.static_keys` builds
# the credentials from them.


class PrincipalSettings(Section):
    name: str
    groups: tuple[str, ...] = ()


class StaticKey(Section):
    # As AWS allows access key ids: 16 to 128 letters and digits, case preserved
    # (and compared exactly). Session key ids are the gateway's own (ASIA…).
    access_key_id: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9]+$")
    secret_access_key: Secret
    principal: PrincipalSettings
