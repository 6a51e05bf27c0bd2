"""Settings: one YAML file, every key overridable by an `S3GATE_…` variable.

Resolved once at start-up into a frozen `Settings` object that is passed down
explicitly; nothing reads configuration from globals afterwards. Nested keys
join with a double underscore in the environment:
`upstream.endpoint_url` ↔ `S3GATE_UPSTREAM__ENDPOINT_URL`. Lists and mappings
take JSON in the environment. A bad value raises `ConfigError`, whose message
names each key and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from s3gate.approvals.settings import ApprovalSettings
from s3gate.audit.settings import AuditSettings
from s3gate.configbase import ConfigError, KiB, MiB, Secret, Section
from s3gate.identity.settings import IdentitySettings, StaticKey
from s3gate.masking.settings import ViewSettings
from s3gate.policy.settings import PolicySettings
from s3gate.s3.cors import CorsRule
from s3gate.transform.settings import MaskingSettings
from s3gate.upstream.settings import UpstreamSettings

__all__ = ["ConfigError", "MiB", "Secret", "Section", "Settings", "load"]


class TlsSettings(Section):
    """Serve HTTPS directly (otherwise terminate TLS in front of the gateway)."""

    cert_file: Path
    key_file: Path
    key_password: Secret | None = None


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=0, le=65535)
    # Domains for virtual-hosted-style requests: `<bucket>.<domain>`.
    virtual_host_domains: tuple[str, ...] = ()
    # Region reported by GetBucketLocation; signatures are accepted for any
    # region in the credential scope (the scope is part of what is signed).
    region: str = "us-east-1"
    max_clock_skew_seconds: int = Field(default=900, ge=0)
    max_presign_expires_seconds: int = Field(default=604800, ge=1, le=604800)
    # Bodies up to this size are received and verified in full before a byte
    # goes upstream; larger ones stream with the final piece withheld until
    # verification passes.
    buffer_limit_bytes: int = Field(default=1 * MiB, ge=0)
    # Largest single PUT / part accepted (S3's own limit is 5 GiB).
    max_object_bytes: int = Field(default=5 * 1024 * MiB, ge=1)
    # Largest XML request body (DeleteObjects, CompleteMultipartUpload).
    max_xml_bytes: int = Field(default=2 * MiB, ge=1024)
    # Upstream listing calls one ListObjects request may make to fill a page
    # whose entries the caller may not see (see docs/threat-model.md).
    list_upstream_pages: int = Field(default=20, ge=1, le=1000)
    access_log: bool = True
    # Prometheus metrics at /_s3gate/metrics (unauthenticated, like readyz).
    metrics: bool = True
    tls: TlsSettings | None = None
    # Proxies (ingress, load balancer) whose X-Forwarded-For / -Proto headers
    # are believed, so that policies and audit see the real client address and
    # whether it used TLS. Addresses or CIDRs; "*" trusts every peer. None by
    # default: otherwise any process on the host could claim any address.
    forwarded_allow_ips: tuple[str, ...] = ()
    # Request limits, enforced by the HTTP protocol (`httplimits`) while the
    # request head is parsed, before any authentication work. AWS S3 refuses
    # heads over 8 KB; SDKs and CLIs send well under 4 KB.
    max_headers: int = Field(default=100, ge=8, le=10_000)
    # Request line plus every header line: the most a connection buffers
    # before its request is handed to the application.
    max_head_bytes: int = Field(default=16 * KiB, ge=2 * KiB, le=1 * MiB)
    # One header, name plus value: 8 KiB of value and a name, so that the
    # longest session token STS issues (8192 characters) fits.
    max_header_bytes: int = Field(default=8 * KiB + 128, ge=1 * KiB, le=1 * MiB)
    # From a connection's start (or the first byte of a later request on it)
    # to the end of the request head.
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # An idle kept-alive connection is closed after this long. Above the
    # 60 s idle timeout of common load balancers, so that they close first.
    keep_alive_timeout_seconds: int = Field(default=65, ge=1, le=3600)
    # Open client connections; beyond it a new connection is answered 503
    # SlowDown and closed.
    max_connections: int = Field(default=1024, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_header_fits(self) -> ServerSettings:
        if self.max_header_bytes > self.max_head_bytes:
            raise ValueError("max_header_bytes must not exceed max_head_bytes")
        return self


BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="S3GATE_",
        env_nested_delimiter="__",
    )

    server: ServerSettings = ServerSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    static_keys: tuple[StaticKey, ...] = ()
    # Per-bucket CORS rules (s3gate.s3.cors): bucket name → rules, first match wins.
    cors: dict[BucketName, tuple[CorsRule, ...]] = Field(default_factory=dict)
    policy: PolicySettings = PolicySettings()
    identity: IdentitySettings = IdentitySettings()
    masking: MaskingSettings = MaskingSettings()
    views: ViewSettings = ViewSettings()
    audit: AuditSettings = AuditSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    data_dir: Path = Path("./data")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file arrives as init kwargs.
        return (env_settings, init_settings)


def _format(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{key}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the YAML file (if any), apply `overrides`, then the environment."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: top level must be a mapping")
        data = loaded or {}
    if overrides:
        data = _merge(data, overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        # All at once: the field errors and the secrets that could not be
        # read, so that one edit-and-retry fixes everything.
        fields = _format(exc)
        secrets = _raw_secret_problems(data) + _audit_problems(data.get("audit"))
        if secrets:
            fields += "\n  " + "\n  ".join(secrets)
        raise ConfigError(fields) from exc
    _check_secrets(settings)
    return settings


def _audit_problems(raw: object) -> list[str]:
    """The audit section's own problems (signing keys), if it validates alone."""
    try:
        audit = AuditSettings(**raw) if isinstance(raw, dict) else AuditSettings()
    except ValidationError:
        return []  # already among the field errors
    return audit.problems()


_SECRET_KEYS = frozenset({"file", "env", "value"})


def _raw_secret_problems(data: object, where: str = "") -> list[str]:
    """Unreadable secret references found in the raw settings (when the
    settings themselves did not validate, `_check_secrets` cannot run): a
    mapping with exactly one of `file` / `env` / `value`."""
    problems: list[str] = []
    if isinstance(data, dict):
        if data and set(data) <= _SECRET_KEYS and len(data) == 1:
            if isinstance(data.get("env"), str) or isinstance(data.get("file"), str):
                try:
                    Secret(**data).resolve()
                except (ConfigError, ValidationError) as exc:
                    problems.append(f"{where}: {exc}")
            return problems
        for key, value in data.items():
            problems += _raw_secret_problems(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            problems += _raw_secret_problems(value, f"{where}.{i}" if where else str(i))
    return problems


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _check_secrets(settings: Settings) -> None:
    """Resolve every secret once so that a missing one fails at start-up."""
    problems = []
    for i, key in enumerate(settings.static_keys):
        try:
            key.secret_access_key.resolve()
        except ConfigError as exc:
            problems.append(f"static_keys.{i}.secret_access_key: {exc}")
    up = settings.upstream
    for name in ("access_key_id", "secret_access_key", "session_token"):
        secret = getattr(up, name)
        if secret is not None:
            try:
                secret.resolve()
            except ConfigError as exc:
                problems.append(f"upstream.{name}: {exc}")
    problems.extend(settings.identity.secret_problems())
    problems.extend(settings.audit.problems())
    problems.extend(_audit_state_problems(settings))
    if settings.audit.enabled and settings.audit.bucket != settings.policy.audit_bucket:
        # The built-in read-only guard must protect the bucket audit really uses.
        problems.append(f"policy.audit_bucket: must equal audit.bucket ({settings.audit.bucket!r})")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def _audit_state_problems(settings: Settings) -> list[str]:
    """A replica id that differs from the one whose chain the audit directory
    holds: refusing at load time names the key to fix (continuing the chain
    under another name would fork it)."""
    # Imported here: s3gate.audit.write.log imports this module (through upstream).
    from s3gate.audit.write.log import replica_id
    from s3gate.audit.write.state import StateStore

    if not settings.audit.enabled:
        return []
    directory = settings.audit.directory(settings.data_dir) / "state"
    try:
        owner = StateStore(directory).owner()
    except (OSError, ValueError):
        return []  # unreadable state is reported by the audit log itself at start
    wanted = replica_id(settings.audit)
    if owner is None or owner == wanted:
        return []
    return [
        f"audit.replica_id: the audit state in {directory} continues the chain of replica "
        f"{owner!r}, not {wanted!r}; set audit.replica_id to {owner!r}, or give this "
        "replica its own audit.dir (a replica id is fixed for the life of its chain)"
    ]
