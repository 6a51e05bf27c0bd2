"""Verified claims → identity: subject, groups (nested paths), Kubernetes
service accounts, selected claims, and the bounds on all of them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from s3gate.identity.claims import MAX_GROUPS, lookup, map_claims
from s3gate.identity.jwks import JwksCache
from s3gate.identity.oidc import TokenValidator
from s3gate.identity.settings import IssuerSettings
from s3gate.identity.sts_errors import IDPRejectedClaim
from tests.unit.identity.idp import AUDIENCE, FakeIdP, SigningKey, identity, sign

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"


def issuer(**overrides: Any) -> IssuerSettings:
    values: dict[str, Any] = {
        "name": "corp",
        "issuer": "https://idp.example",
        "jwks_uri": "https://idp.example/keys",
        "audiences": [AUDIENCE],
    }
    values.update(overrides)
    return IssuerSettings(**values)


def base(**claims: Any) -> dict[str, Any]:
    return {"iss": "https://idp.example", "sub": "alice", "aud": AUDIENCE, "exp": 2**31, **claims}


def k8s_claims(namespace: str = "agents", account: str = "writer", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": [AUDIENCE],
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "iss": K8S_ISSUER,
        "jti": "7f8e",
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": "node-1", "uid": "n-uid"},
            "pod": {"name": f"{account}-5d9f", "uid": "p-uid"},
            "serviceaccount": {"name": account, "uid": "sa-uid"},
        },
        "sub": f"system:serviceaccount:{namespace}:{account}",
        **extra,
    }


@pytest.mark.parametrize(
    ("path", "claims", "expected"),
    [
        ("groups", {"groups": ["a"]}, ["a"]),
        ("cognito:groups", {"cognito:groups": ["b"]}, ["b"]),
        ("realm_access.roles", {"realm_access": {"roles": ["c"]}}, ["c"]),
        ("kubernetes.io.namespace", {"kubernetes.io": {"namespace": "ns"}}, "ns"),
        ("https://example.com/groups", {"https://example.com/groups": ["d"]}, ["d"]),
        ("a.b.c", {"a": {"b": {"c": 1}}}, 1),
        ("a.b", {"a": ["not", "a", "mapping"]}, None),
        ("missing", {}, None),
        ("a.missing", {"a": {}}, None),
    ],
)
def test_lookup(path: str, claims: dict[str, Any], expected: Any) -> None:
    assert lookup(claims, path) == expected


@pytest.mark.parametrize(
    ("groups_claim", "claims", "groups"),
    [
        ("groups", {"groups": ["analysts", "auditors"]}, ("analysts", "auditors")),
        ("groups", {"groups": "analysts"}, ("analysts",)),
        ("groups", {}, ()),
        ("groups", {"groups": ["a", "a", "b"]}, ("a", "b")),
        ("cognito:groups", {"cognito:groups": ["x"]}, ("x",)),
        (
            "realm_access.roles",
            {"realm_access": {"roles": ["offline_access", "r"]}},
            ("offline_access", "r"),
        ),
        (None, {"groups": ["ignored"]}, ()),
    ],
)
def test_groups(groups_claim: str | None, claims: dict[str, Any], groups: tuple[str, ...]) -> None:
    who = map_claims(issuer(groups_claim=groups_claim), base(**claims), AUDIENCE)
    assert who.groups == groups


@pytest.mark.parametrize(
    "claims",
    [
        {"groups": {"not": "a list"}},
        {"groups": ["ok", 3]},
        {"groups": ["x" * 300]},
        {"groups": [f"g{i}" for i in range(MAX_GROUPS + 1)]},
        {"groups": ["bad\ncontrol"]},
        {"groups": [f"{i:04d}" + "x" * 60 for i in range(100)]},  # too much to seal
        {"sub": 42},
        {"sub": ""},
        {"sub": "x" * 2000},
    ],
)
def test_rejected_claims(claims: dict[str, Any]) -> None:
    with pytest.raises(IDPRejectedClaim):
        map_claims(issuer(), base(**claims), AUDIENCE)


def test_subject_claim_and_selected_claims() -> None:
    settings = issuer(subject_claim="email", selected_claims=("email", "org.id", "tier", "absent"))
    claims = base(email="alice@example.com", org={"id": "o-1"}, tier=3)
    who = map_claims(settings, claims, AUDIENCE)
    assert who.subject == "alice@example.com"
    assert who.token_subject == "alice"
    assert dict(who.claims) == {"email": "alice@example.com", "org.id": "o-1", "tier": "3"}


def test_selected_claim_too_long_is_rejected() -> None:
    with pytest.raises(IDPRejectedClaim):
        map_claims(issuer(selected_claims=("bio",)), base(bio="x" * 5000), AUDIENCE)


def test_kubernetes_service_account() -> None:
    settings = issuer(issuer=K8S_ISSUER, kubernetes=True, groups_claim=None)
    who = map_claims(settings, k8s_claims(), AUDIENCE)
    assert who.subject == "system:serviceaccount:agents:writer"
    assert who.groups == ("system:serviceaccounts", "system:serviceaccounts:agents")
    assert dict(who.claims) == {
        "kubernetes.namespace": "agents",
        "kubernetes.serviceaccount": "writer",
        "kubernetes.pod": "writer-5d9f",
    }


@pytest.mark.parametrize(
    "claims",
    [
        {**k8s_claims(), "sub": "system:serviceaccount:other:writer"},  # sub and claim disagree
        {k: v for k, v in k8s_claims().items() if k != "kubernetes.io"},
        {**k8s_claims(), "kubernetes.io": {"namespace": "agents"}},
        {**k8s_claims(), "kubernetes.io": "agents"},
    ],
)
def test_kubernetes_inconsistent_tokens(claims: dict[str, Any]) -> None:
    settings = issuer(issuer=K8S_ISSUER, kubernetes=True)
    with pytest.raises(IDPRejectedClaim):
        map_claims(settings, claims, AUDIENCE)


async def test_kubernetes_token_end_to_end(tmp_path: Path, keys: dict[str, SigningKey]) -> None:
    jwks = tmp_path / "cluster-jwks.json"
    jwks.write_text(json.dumps({"keys": [keys["rsa2"].public_jwk()]}))
    settings = identity(
        IssuerSettings(
            name="kubernetes",
            issuer=K8S_ISSUER,
            jwks_file=jwks,
            audiences=[AUDIENCE],
            kubernetes=True,
            groups_claim=None,
        )
    )
    check = TokenValidator(settings, JwksCache(settings))
    who = await check.validate(sign(keys["rsa2"], k8s_claims()))
    await check.close()
    assert who.issuer == "kubernetes"
    assert "system:serviceaccounts:agents" in who.groups


async def test_nested_groups_end_to_end(idp: FakeIdP) -> None:
    settings = identity(idp.issuer_settings(groups_claim="realm_access.roles"))
    check = TokenValidator(settings, JwksCache(settings))
    who = await check.validate(idp.token(realm_access={"roles": ["analysts", "auditors"]}))
    await check.close()
    assert who.groups == ("analysts", "auditors")
