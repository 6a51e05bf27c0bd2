"""The roles file: validation at load, and trust decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3gate.identity.claims import WebIdentity
from s3gate.identity.roles import RoleBook, RolesError
from s3gate.identity.sts_errors import AccessDenied

REPO_ROLES = Path(__file__).resolve().parents[3] / "policies" / "roles.yaml"
ARN = "arn:aws:iam::000000000000:role/"


def who(
    issuer: str = "dev",
    subject: str = "alice",
    groups: tuple[str, ...] = (),
    audience: str = "s3gate",
    **raw: Any,
) -> WebIdentity:
    return WebIdentity(
        issuer=issuer,
        issuer_url=f"https://{issuer}.example",
        subject=subject,
        token_subject=subject,
        audience=audience,
        groups=groups,
        claims={},
        expires_at=2**31,
        raw={"sub": subject, **raw},
    )


def test_example_roles_file() -> None:
    book = RoleBook.load(REPO_ROLES, known_issuers=["dev", "kubernetes"])
    assert {r.name for r in book} == {"trace-writer", "analyst", "auditor", "break-glass"}
    assert book.warnings == ()
    agent = who("kubernetes", "system:serviceaccount:agents:writer")
    assert book.authorize(ARN + "trace-writer", agent).name == "trace-writer"
    assert book.authorize(ARN + "analyst", who(groups=("analysts",))).max_session_seconds == 43200
    assert book.authorize(ARN + "auditor", who(groups=("auditors",))).name == "auditor"
    assert book.authorize(ARN + "trace-writer", who(groups=("trace-writers",))).name
    assert book.authorize(ARN + "break-glass", who(groups=("sre",))).name == "break-glass"


def test_example_roles_file_warns_about_unconfigured_issuers() -> None:
    book = RoleBook.load(REPO_ROLES, known_issuers=["dev"])
    assert len(book.warnings) == 1
    assert "trace-writer" in book.warnings[0] and "kubernetes" in book.warnings[0]


TRUST_CASES = [
    # (name, identity, allowed)
    ("agent service account", who("kubernetes", "system:serviceaccount:agents:writer"), True),
    ("other namespace", who("kubernetes", "system:serviceaccount:default:writer"), False),
    ("right subject, wrong issuer", who("dev", "system:serviceaccount:agents:writer"), False),
    ("group member", who("dev", "bob", ("trace-writers",)), True),
    ("not a member", who("dev", "bob", ("analysts",)), False),
    ("group via unknown issuer", who("corp", "bob", ("trace-writers",)), False),
]


@pytest.mark.parametrize(
    ("name", "identity", "allowed"), TRUST_CASES, ids=[c[0] for c in TRUST_CASES]
)
def test_trace_writer_trust(name: str, identity: WebIdentity, allowed: bool) -> None:
    book = RoleBook.load(REPO_ROLES)
    if allowed:
        assert book.authorize(ARN + "trace-writer", identity).name == "trace-writer"
    else:
        with pytest.raises(AccessDenied) as raised:
            book.authorize(ARN + "trace-writer", identity)
        assert raised.value.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def role(trust: Any, name: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "arn": ARN + name, "trust": trust, **extra}


CONDITION_CASES = [
    ("audience ok", {"audiences": ["s3gate"]}, who(), True),
    ("audience not listed", {"audiences": ["other"]}, who(), False),
    ("claim equal", {"claims": {"email_verified": True}}, who(email_verified=True), True),
    ("claim bool vs int", {"claims": {"email_verified": True}}, who(email_verified=1), False),
    ("claim str vs int", {"claims": {"tier": "1"}}, who(tier=1), False),
    ("claim one of", {"claims": {"dept": ["ml", "ops"]}}, who(dept="ops"), True),
    ("claim list contains", {"claims": {"amr": "mfa"}}, who(amr=["pwd", "mfa"]), True),
    ("claim missing", {"claims": {"dept": "ml"}}, who(), False),
    ("nested claim", {"claims": {"org.id": "o-1"}}, who(org={"id": "o-1"}), True),
    ("subject glob", {"subjects": ["svc-*"]}, who(subject="svc-a"), True),
    ("subject glob miss", {"subjects": ["svc-*"]}, who(subject="alice"), False),
    ("groups any", {"groups_any": ["a", "b"]}, who(groups=("b",)), True),
    ("groups none", {"groups_any": ["a", "b"]}, who(groups=("c",)), False),
]


@pytest.mark.parametrize(
    ("name", "conditions", "identity", "allowed"),
    CONDITION_CASES,
    ids=[c[0] for c in CONDITION_CASES],
)
def test_trust_conditions(
    name: str, conditions: dict[str, Any], identity: WebIdentity, allowed: bool
) -> None:
    trust = {"issuers": ["dev"], "subjects": ["*"], **conditions}
    book = RoleBook.parse({"roles": [role(trust)]}, "inline")
    if allowed:
        assert book.authorize(ARN + "r1", identity).name == "r1"
    else:
        with pytest.raises(AccessDenied):
            book.authorize(ARN + "r1", identity)


def test_unknown_role_is_access_denied() -> None:
    book = RoleBook.parse({"roles": []}, "inline")
    with pytest.raises(AccessDenied):
        book.authorize(ARN + "nope", who())


INVALID = [
    ("no subjects", {"roles": [role({"issuers": ["dev"]})]}, "trust.0.subjects"),
    ("empty issuers", {"roles": [role({"issuers": [], "subjects": ["*"]})]}, "issuers"),
    (
        "bad arn",
        {"roles": [{"name": "r1", "arn": "r1", "trust": {"issuers": ["d"], "subjects": ["*"]}}]},
        "arn",
    ),
    (
        "arn names another role",
        {
            "roles": [
                {"name": "r1", "arn": ARN + "r2", "trust": {"issuers": ["d"], "subjects": ["*"]}}
            ]
        },
        "names role 'r2'",
    ),
    (
        "session too long",
        {"roles": [role({"issuers": ["d"], "subjects": ["*"]}, max_session_seconds=50000)]},
        "max_session_seconds",
    ),
    (
        "session too short",
        {"roles": [role({"issuers": ["d"], "subjects": ["*"]}, max_session_seconds=60)]},
        "max_session_seconds",
    ),
    (
        "unknown key",
        {"roles": [role({"issuers": ["d"], "subjects": ["*"], "grups": ["x"]})]},
        "grups",
    ),
    (
        "duplicate",
        {"roles": [role({"issuers": ["d"], "subjects": ["*"]})] * 2},
        "already defined",
    ),
    ("not a list", {"roles": {"r1": {}}}, "roles: [...]"),
    ("extra top level", {"roles": [], "other": 1}, "roles: [...]"),
]


@pytest.mark.parametrize(("name", "data", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_files(name: str, data: Any, fragment: str, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RolesError) as raised:
        RoleBook.load(path)
    message = str(raised.value)
    assert str(path) in message
    assert fragment in message
    if isinstance(data.get("roles"), list) and data["roles"]:
        assert "role r1" in message


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(RolesError, match="cannot read"):
        RoleBook.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles: [unclosed")
    with pytest.raises(RolesError, match="not valid YAML"):
        RoleBook.load(bad)


def test_account_and_partition() -> None:
    book = RoleBook.parse(
        {
            "roles": [
                {
                    "name": "r",
                    "arn": "arn:aws-cn:iam::123456789012:role/team/r",
                    "trust": {"issuers": ["d"], "subjects": ["*"]},
                }
            ]
        },
        "inline",
    )
    found = book.get("arn:aws-cn:iam::123456789012:role/team/r")
    assert found is not None
    assert (found.account, found.partition) == ("123456789012", "aws-cn")
