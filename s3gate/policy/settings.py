"""Settings of the policy layer (the `policy:` section of the configuration).

The base class repeats `config.Section`'s model configuration instead of
importing it: `s3gate.config` imports this module to build `Settings`, so
importing `s3gate.config` from here would be a cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Files whose content decides a request; their hash names the bundle in audit.
DEFAULT_BUNDLE_FILES = (
    "schema.cedarschema",
    "access/**/*.cedar",
    "roles.yaml",
    "approvals.yaml",
    "masking/**/*.yaml",
    "masking/**/*.yml",
)


class PolicySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dir: Path = Path("./policies")
    # Reload when a file under `dir` changes (SIGHUP always reloads).
    watch: bool = True
    # Editors and `git checkout` write several files in a burst: wait until the
    # directory has been quiet this long before validating the new bundle.
    reload_debounce_seconds: float = Field(default=0.5, ge=0.0, le=60.0)
    # Nobody writes or deletes here through the gateway, whatever the policies say.
    audit_bucket: str = "audit"
    # Places the gateway keeps for itself, as "<bucket>/<key prefix>", where the
    # bucket may be "*" (every bucket) and an empty key prefix means the whole
    # bucket. Never reachable by clients, never shown in listings.
    internal_prefixes: tuple[str, ...] = ("*/.s3gate/",)
    # Glob patterns, relative to `dir`, of the files hashed into the bundle hash.
    bundle_files: tuple[str, ...] = DEFAULT_BUNDLE_FILES
    # Decisions remembered per bundle, keyed by what the policies can observe
    # (see policy/projection.py); 0 turns the cache off.
    decision_cache_size: int = Field(default=4096, ge=0)
    # How much an AccessDenied message says (policy/denials.py): "none",
    # "reason" (the class: no policy allows / forbid / built-in guard), or
    # "policies" (also the determining policy ids; for development).
    denial_detail: Literal["none", "reason", "policies"] = "reason"

    @field_validator("internal_prefixes")
    @classmethod
    def _check_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            bucket, sep, prefix = entry.partition("/")
            if not sep or not bucket:
                raise ValueError(f"{entry!r}: write '<bucket or *>/<key prefix>'")
            if bucket == "*" and not prefix:
                raise ValueError(f"{entry!r} would make every bucket internal")
        return value

    @field_validator("bundle_files")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(f"{pattern!r}: patterns are relative to the policy directory")
        return value
