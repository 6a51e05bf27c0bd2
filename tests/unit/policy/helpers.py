"""Helpers for the policy tests: paths, principals, contexts, throwaway bundles."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from s3gate.identity.principal import Principal
from s3gate.policy.model import RequestContext

POLICIES = Path(__file__).resolve().parents[3] / "policies"
SCHEMA = POLICIES / "schema.cedarschema"
NOON_MONDAY = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def session(
    subject: str,
    role: str | None = None,
    groups: tuple[str, ...] = (),
    claims: Mapping[str, str] | None = None,
    issuer: str = "dev",
) -> Principal:
    return Principal(
        subject=subject,
        access_key_id="ASIATEST",
        source="session",
        groups=groups,
        issuer=issuer,
        role=role,
        session_name=f"{subject}-session",
        claims=dict(claims or {}),
    )


def static(name: str, groups: tuple[str, ...] = ()) -> Principal:
    return Principal(subject=name, access_key_id="AKIATEST", source="static", groups=groups)


def ctx(operation: str = "GetObject", **values: object) -> RequestContext:
    values.setdefault("now", NOON_MONDAY)
    values.setdefault("source_ip", "10.1.2.3")
    return RequestContext(operation, **values)  # type: ignore[arg-type]


def write_bundle(directory: Path, policies: str | Mapping[str, str]) -> Path:
    """A policy directory with the shipped schema and the given policies
    (text for `access/main.cedar`, or relative path → text)."""
    files = {"access/main.cedar": policies} if isinstance(policies, str) else dict(policies)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCHEMA, directory / "schema.cedarschema")
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory
