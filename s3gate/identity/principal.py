"""The authenticated caller, as policy and audit see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Principal:
    """Who is calling. Carries no secrets: safe to log and to audit."""

    subject: str  # user or service name (static key) / `sub` claim (session)
    access_key_id: str
    source: Literal["static", "session"]
    groups: tuple[str, ...] = ()
    issuer: str | None = None
    role: str | None = None  # role name (sessions)
    role_arn: str | None = None
    session_name: str | None = None
    claims: Mapping[str, str] = field(default_factory=dict)  # selected claims only
    expires: datetime | None = None

    def describe(self) -> dict[str, object]:
        """A JSON-safe summary for logs and audit events."""
        out: dict[str, object] = {
            "subject": self.subject,
            "access_key_id": self.access_key_id,
            "source": self.source,
            "groups": list(self.groups),
        }
        for name in ("issuer", "role", "session_name"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class Credential:
    """What an access key id resolves to: the secret to check the signature
    with, and the principal it stands for."""

    secret: str = field(repr=False)
    principal: Principal
