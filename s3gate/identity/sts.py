"""STS AssumeRoleWithWebIdentity, independent of HTTP.

Parameters are checked first (`ValidationError`, never echoing the token),
then the token (`InvalidIdentityToken`, `ExpiredTokenException`,
`IDPRejectedClaim`, `IDPCommunicationError`), then the role's trust
(`AccessDenied`, also for a role that does not exist), and only then the
duration against the role's maximum, so an unauthenticated caller learns
nothing about roles. Session policies (`Policy`, `PolicyArns`) are refused:
s3gate's access decisions come from the Cedar policies in `policies/`, and a
session policy that was silently ignored would grant more than the caller
asked for.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from s3gate.identity.claims import WebIdentity
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.principal import Principal
from s3gate.identity.roles import Role, RoleBook, RolesError
from s3gate.identity.sessions import SessionCredentials, SessionGrant, SessionSealer
from s3gate.identity.settings import IdentitySettings
from s3gate.identity.sts_errors import IDPRejectedClaim, ValidationError
from s3gate.s3.numbers import whole_number

MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


@dataclass(frozen=True)
class AssumeRoleRequest:
    role_arn: str
    session_name: str
    token: str = field(repr=False)
    duration_seconds: int | None = None


@dataclass(frozen=True)
class AssumeRoleResult:
    credentials: SessionCredentials
    subject_from_token: str
    assumed_role_id: str
    assumed_role_arn: str
    audience: str
    provider: str
    principal: Principal  # as S3 requests with these credentials will see it


def _invalid(member: str, constraint: str) -> ValidationError:
    # The STS wording, without echoing the value.
    return ValidationError(
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"{constraint}"
    )


def parse_request(params: Mapping[str, str]) -> AssumeRoleRequest:
    """Check the AssumeRoleWithWebIdentity parameters (after `Action`)."""
    if "Policy" in params or any(name.startswith("PolicyArns.") for name in params):
        raise ValidationError(
            "Session policies (Policy, PolicyArns) are not supported by s3gate; "
            "access is decided by the gateway's policies for the role."
        )
    if "ProviderId" in params:
        raise ValidationError(
            "ProviderId is not supported by s3gate: only OpenID Connect ID tokens are accepted."
        )
    for name, member in (
        ("RoleArn", "roleArn"),
        ("RoleSessionName", "roleSessionName"),
        ("WebIdentityToken", "webIdentityToken"),
    ):
        if not params.get(name):
            raise _invalid(member, "Member must not be null")
    role_arn = params["RoleArn"]
    if not 20 <= len(role_arn) <= 2048:
        raise _invalid("roleArn", "Member must have length between 20 and 2048")
    session_name = params["RoleSessionName"]
    if not _SESSION_NAME.fullmatch(session_name):
        raise _invalid(
            "roleSessionName",
            r"Member must have length between 2 and 64 and match the pattern [\w+=,.@-]*",
        )
    # botocore sends the token file as read, trailing newline included.
    token = params["WebIdentityToken"].strip()
    if not 4 <= len(token) <= 20000:
        raise _invalid("webIdentityToken", "Member must have length between 4 and 20000")
    duration: int | None = None
    if params.get("DurationSeconds") is not None:
        text = params["DurationSeconds"]
        duration = whole_number(text, max_digits=6)
        if duration is None:
            raise _invalid("durationSeconds", "Member must be an integer")
        if not MIN_SESSION_SECONDS <= duration <= MAX_SESSION_SECONDS:
            raise _invalid(
                "durationSeconds",
                f"Member must have value between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}",
            )
    return AssumeRoleRequest(role_arn, session_name, token, duration)


def role_id(role: Role) -> str:
    """A stable, AWS-shaped unique id for a role (AROA + 17 characters)."""
    digest = hashlib.sha256(role.arn.encode()).digest()
    return "AROA" + base64.b32encode(digest).decode()[:17]


class StsService:
    def __init__(
        self,
        settings: IdentitySettings,
        validator: TokenValidator,
        roles: RoleBook,
        sealer: SessionSealer,
    ) -> None:
        self._settings = settings
        self.validator = validator
        self._roles = roles
        self.sealer = sealer

    @classmethod
    def from_settings(
        cls, settings: IdentitySettings, sealer: SessionSealer, roles: RoleBook | None = None
    ) -> StsService:
        """Loads the roles file unless `roles` is given (RolesError if bad)."""
        if roles is None:
            if settings.roles_file is None:
                raise RolesError("no roles: give identity.roles_file or the bundle's roles")
            names = [i.name for i in settings.issuers]
            roles = RoleBook.load(settings.roles_file, known_issuers=names)
        return cls(settings, TokenValidator(settings), roles, sealer)

    @property
    def roles(self) -> RoleBook:
        return self._roles

    def replace_roles(self, roles: RoleBook) -> None:
        """Swap in a newly loaded roles file; requests see the old or the new."""
        self._roles = roles

    async def assume_role_with_web_identity(self, params: Mapping[str, str]) -> AssumeRoleResult:
        request = parse_request(params)
        who = await self.validator.validate(request.token)
        role = self._roles.authorize(request.role_arn, who)
        duration = request.duration_seconds
        if duration is None:
            duration = min(self._settings.default_session_seconds, role.max_session_seconds)
        elif duration > role.max_session_seconds:
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        return self._issue(who, role, request.session_name, duration)

    async def close(self) -> None:
        await self.validator.close()

    def _issue(
        self, who: WebIdentity, role: Role, session_name: str, duration: int
    ) -> AssumeRoleResult:
        grant = SessionGrant(
            issuer=who.issuer,
            subject=who.subject,
            role=role.name,
            role_arn=role.arn,
            session_name=session_name,
            groups=who.groups,
            claims=who.claims,
        )
        try:
            creds = self.sealer.seal(grant, duration)
        except ValueError:
            # Bounded in claims.py; only a pathological mix gets here.
            raise IDPRejectedClaim(
                "The identity carries too much to fit a session token."
            ) from None
        principal = Principal(
            subject=who.subject,
            access_key_id=creds.access_key_id,
            source="session",
            groups=who.groups,
            issuer=who.issuer,
            role=role.name,
            role_arn=role.arn,
            session_name=session_name,
            claims=MappingProxyType(dict(who.claims)),
            expires=creds.expiration,
        )
        return AssumeRoleResult(
            credentials=creds,
            subject_from_token=who.token_subject,
            assumed_role_id=f"{role_id(role)}:{session_name}",
            assumed_role_arn=(
                f"arn:{role.partition}:sts::{role.account}:assumed-role/{role.name}/{session_name}"
            ),
            audience=who.audience,
            provider=who.issuer_url,
            principal=principal,
        )
