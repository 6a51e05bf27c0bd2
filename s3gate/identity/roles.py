"""Roles as code: which web identities may assume which role, for how long.

The roles file (`policies/roles.yaml`) lists roles by name and ARN, each with
one or more trust statements. A statement holds when every condition it
gives holds (issuer, subject pattern, and, when given, audience, any-of
groups, claim values); a role may be assumed when any of its statements
holds. A statement must name subjects (`["*"]` to accept any subject of the
issuer), so trust is never granted by accident of an omitted key.

The file is validated whole at load; an error names the file and the role.
Issuer names the configuration does not define are reported as warnings
(the example file names `kubernetes`, which `s3gate dev` does not define):
statements naming only such issuers can never hold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from s3gate.identity.claims import WebIdentity, lookup
from s3gate.identity.sts_errors import AccessDenied

log = logging.getLogger("s3gate.identity")

MAX_FILE_BYTES = 1024 * 1024
ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/"
    r"(?P<path>(?:[\x21-\x2e\x30-\x7e]+/)*)(?P<name>[\w+=,.@-]{1,64})"
)
Scalar = str | int | float | bool


class RolesError(Exception):
    """The roles file is unusable; the message names the file and the role."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _TrustModel(_Model):
    issuers: tuple[str, ...] = Field(min_length=1)
    subjects: tuple[str, ...] = Field(min_length=1)
    audiences: tuple[str, ...] = ()
    groups_any: tuple[str, ...] = ()
    claims: dict[str, Scalar | tuple[Scalar, ...]] = {}


class _RoleModel(_Model):
    name: str = Field(pattern=r"^[\w+=,.@-]{1,64}$")
    arn: str
    description: str = ""
    max_session_seconds: int = Field(default=3600, ge=900, le=43200)
    # One statement, or a list of statements of which any may hold.
    trust: tuple[_TrustModel, ...] = Field(min_length=1)

    @field_validator("trust", mode="before")
    @classmethod
    def _statements(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not ROLE_ARN.fullmatch(value):
            raise ValueError("not a role ARN (arn:aws:iam::<12-digit account>:role/<name>)")
        return value


def _same(a: Any, b: Scalar) -> bool:
    # Type-strict: YAML `true` must not match a claim of 1, nor "1" match 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return isinstance(a, int | float) and a == b


@dataclass(frozen=True)
class TrustRule:
    issuers: tuple[str, ...]
    subjects: tuple[str, ...]
    audiences: tuple[str, ...] = ()
    groups_any: tuple[str, ...] = ()
    claims: Mapping[str, tuple[Scalar, ...]] | None = None

    def allows(self, who: WebIdentity) -> bool:
        if who.issuer not in self.issuers:
            return False
        if not any(fnmatchcase(who.subject, pattern) for pattern in self.subjects):
            return False
        if self.audiences and who.audience not in self.audiences:
            return False
        if self.groups_any and not set(self.groups_any).intersection(who.groups):
            return False
        for path, wanted in (self.claims or {}).items():
            value = lookup(who.raw, path)
            values = value if isinstance(value, list) else [value]
            if not any(_same(v, w) for v in values for w in wanted):
                return False
        return True


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    max_session_seconds: int
    trust: tuple[TrustRule, ...]
    description: str = ""

    @property
    def account(self) -> str:
        found = ROLE_ARN.fullmatch(self.arn)
        assert found is not None
        return found["account"]

    @property
    def partition(self) -> str:
        found = ROLE_ARN.fullmatch(self.arn)
        assert found is not None
        return found["partition"]


class RoleBook:
    """The roles of one roles file, by ARN."""

    def __init__(self, roles: Iterable[Role], warnings: Iterable[str] = ()) -> None:
        self._by_arn = {r.arn: r for r in roles}
        self.warnings = tuple(warnings)

    @classmethod
    def load(cls, path: Path, known_issuers: Collection[str] | None = None) -> RoleBook:
        try:
            with path.open("rb") as handle:
                text = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise RolesError(f"roles file {path}: cannot read: {exc.strerror}") from exc
        if len(text) > MAX_FILE_BYTES:
            raise RolesError(f"roles file {path}: larger than {MAX_FILE_BYTES} bytes")
        return cls.parse_text(text.decode("utf-8", "replace"), str(path), known_issuers)

    @classmethod
    def parse_text(
        cls, text: str, source: str, known_issuers: Collection[str] | None = None
    ) -> RoleBook:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RolesError(f"roles file {source}: not valid YAML: {exc}") from exc
        return cls.parse(data, source, known_issuers)

    @classmethod
    def parse(
        cls, data: Any, source: str, known_issuers: Collection[str] | None = None
    ) -> RoleBook:
        if (
            not isinstance(data, dict)
            or set(data) != {"roles"}
            or not isinstance(data["roles"], list)
        ):
            raise RolesError(f"roles file {source}: the top level must be `roles: [...]`")
        roles: list[Role] = []
        warnings: list[str] = []
        for i, entry in enumerate(data["roles"]):
            label = entry.get("name") if isinstance(entry, dict) else None
            where = f"roles file {source}: role {label or f'#{i + 1}'}"
            try:
                model = _RoleModel.model_validate(entry)
            except ValidationError as exc:
                raise RolesError(f"{where}: {_format(exc)}") from None
            role = _build(model)
            if role.arn.rsplit("/", 1)[1] != role.name:
                raise RolesError(f"{where}: the ARN names role {role.arn.rsplit('/', 1)[1]!r}")
            if any(r.name == role.name or r.arn == role.arn for r in roles):
                raise RolesError(f"{where}: a role with this name or ARN is already defined")
            if known_issuers is not None:
                unknown = sorted({i for t in role.trust for i in t.issuers} - set(known_issuers))
                if unknown:
                    warnings.append(f"{where}: issuers not configured: {', '.join(unknown)}")
            roles.append(role)
        for warning in warnings:
            log.warning("%s", warning)
        return cls(roles, warnings)

    def get(self, arn: str) -> Role | None:
        return self._by_arn.get(arn)

    def __iter__(self) -> Any:
        return iter(self._by_arn.values())

    def __len__(self) -> int:
        return len(self._by_arn)

    def authorize(self, arn: str, who: WebIdentity) -> Role:
        """The role, if `who` may assume it; AccessDenied otherwise (also for a
        role that does not exist, as STS does, so roles cannot be probed)."""
        role = self._by_arn.get(arn)
        if role is None or not any(rule.allows(who) for rule in role.trust):
            log.debug(
                "trust refused: issuer %s subject %r role %s%s",
                who.issuer,
                who.subject,
                arn[:200],
                "" if role is not None else " (no such role)",
            )
            raise AccessDenied()
        return role


def _build(model: _RoleModel) -> Role:
    rules = tuple(
        TrustRule(
            issuers=t.issuers,
            subjects=t.subjects,
            audiences=t.audiences,
            groups_any=t.groups_any,
            claims={
                path: value if isinstance(value, tuple) else (value,)
                for path, value in t.claims.items()
            },
        )
        for t in model.trust
    )
    return Role(
        name=model.name,
        arn=model.arn,
        max_session_seconds=model.max_session_seconds,
        trust=rules,
        description=model.description,
    )


def _format(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(role)"
        parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)
