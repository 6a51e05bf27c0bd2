"""Verified token claims → the identity a role is decided for.

Runs after the signature and the standard claims have been checked: the token
is authentic, so a claim that cannot be used (a subject that is not a string,
a groups claim of the wrong shape, more groups than we keep) is the IdP's
assertion being unusable, which STS calls `IDPRejectedClaim`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from s3gate.identity.settings import IssuerSettings
from s3gate.identity.sts_errors import IDPRejectedClaim

log = logging.getLogger("s3gate.identity")

# Bounds on what a token may put on a principal (and so into every session
# token and audit event).
MAX_GROUPS = 256
MAX_NAME_CHARS = 256
MAX_SUBJECT_CHARS = 1024
MAX_CLAIM_CHARS = 1024
# Groups and selected claims together, so the session token stays small
# enough for an HTTP header.
MAX_IDENTITY_CHARS = 4096

K8S_CLAIM = "kubernetes.io"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class WebIdentity:
    """Who a validated web identity token speaks for."""

    issuer: str  # configured issuer name
    issuer_url: str  # the exact `iss`
    subject: str  # the mapped subject (subject_claim)
    token_subject: str  # the `sub` claim itself, as STS reports it
    audience: str  # the configured audience the token was accepted for
    groups: tuple[str, ...]
    claims: Mapping[str, str]  # selected claims, as strings
    expires_at: int  # token `exp`
    # Every verified claim, for trust conditions; never sealed or logged.
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


def lookup(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None.

    Claim names may contain dots themselves (`kubernetes.io`, namespaced
    claims such as `https://example.com/groups`), so at each level the longest
    run of segments that names a key wins: `kubernetes.io.namespace` finds
    `claims["kubernetes.io"]["namespace"]`.
    """
    parts = path.split(".")
    node: Any = claims
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return None
    return node


def _reject(issuer: IssuerSettings, reason: str) -> IDPRejectedClaim:
    log.debug("web identity token of issuer %s refused: %s", issuer.name, reason)
    return IDPRejectedClaim()


def _name(value: Any, limit: int) -> str | None:
    # No control characters: names end up in XML, logs and audit events.
    if isinstance(value, str) and 0 < len(value) <= limit and not _CONTROL.search(value):
        return value
    return None


def _groups(issuer: IssuerSettings, claims: Mapping[str, Any]) -> list[str]:
    if issuer.groups_claim is None:
        return []
    value = lookup(claims, issuer.groups_claim)
    if value is None:
        return []
    # One group as a bare string is common enough (custom IdP mappers).
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _reject(issuer, "groups claim is neither a string nor a list")
    groups = []
    for item in items:
        name = _name(item, MAX_NAME_CHARS)
        if name is None:
            raise _reject(issuer, "groups claim holds a non-string or oversized entry")
        groups.append(name)
    return groups


def _kubernetes(
    issuer: IssuerSettings, claims: Mapping[str, Any], groups: list[str], out: dict[str, str]
) -> None:
    """Projected service-account tokens: check that `sub` and the
    `kubernetes.io` claim agree, then add the groups Kubernetes itself gives
    a service account."""
    k8s = claims.get(K8S_CLAIM)
    if not isinstance(k8s, Mapping):
        raise _reject(issuer, "no kubernetes.io claim")
    namespace = _name(k8s.get("namespace"), MAX_NAME_CHARS)
    account = k8s.get("serviceaccount")
    account_name = (
        _name(account.get("name"), MAX_NAME_CHARS) if isinstance(account, Mapping) else None
    )
    if namespace is None or account_name is None:
        raise _reject(issuer, "kubernetes.io claim lacks namespace or serviceaccount.name")
    if claims.get("sub") != f"system:serviceaccount:{namespace}:{account_name}":
        raise _reject(issuer, "sub does not match the kubernetes.io claim")
    groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    out["kubernetes.namespace"] = namespace
    out["kubernetes.serviceaccount"] = account_name
    pod = k8s.get("pod")
    if isinstance(pod, Mapping):
        pod_name = _name(pod.get("name"), MAX_NAME_CHARS)
        if pod_name is not None:
            out["kubernetes.pod"] = pod_name


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def map_claims(issuer: IssuerSettings, claims: Mapping[str, Any], audience: str) -> WebIdentity:
    """Build the identity from claims already verified by `oidc`."""
    subject = _name(lookup(claims, issuer.subject_claim), MAX_SUBJECT_CHARS)
    if subject is None:
        raise _reject(issuer, "subject claim missing, not a string or too long")
    token_subject = _name(claims.get("sub"), MAX_SUBJECT_CHARS) or subject
    groups = _groups(issuer, claims)
    selected: dict[str, str] = {}
    if issuer.kubernetes:
        _kubernetes(issuer, claims, groups, selected)
    for path in issuer.selected_claims:
        value = lookup(claims, path)
        if value is None:
            continue
        text = _as_text(value)
        if len(text) > MAX_CLAIM_CHARS or _CONTROL.search(text):
            raise _reject(issuer, f"selected claim {path} is too long or has control characters")
        selected[path] = text
    unique = tuple(dict.fromkeys(groups))
    if len(unique) > MAX_GROUPS:
        raise _reject(issuer, "too many groups")
    carried = sum(map(len, unique)) + sum(len(k) + len(v) for k, v in selected.items())
    if carried > MAX_IDENTITY_CHARS:
        raise _reject(issuer, "groups and selected claims too large for a session")
    return WebIdentity(
        issuer=issuer.name,
        issuer_url=issuer.issuer,
        subject=subject,
        token_subject=token_subject,
        audience=audience,
        groups=unique,
        claims=selected,
        expires_at=int(claims["exp"]),
        raw=claims,
    )
