"""Hypothetical requests, as written in policy tests and `policy explain`.

A case names a principal, an action (or an operation such as CopyObject or
DeleteObjects, decided the way the gateway decides it), an `s3://` target and
context values; `decide_case` returns the decision the gateway would make.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from s3gate.identity.principal import Principal
from s3gate.policy import decision as dec
from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.model import RequestContext, Resource

# Fixed defaults keep policy tests reproducible: a Monday at noon UTC.
DEFAULT_NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
DEFAULT_IP = "127.0.0.1"

PRINCIPAL_KEYS = frozenset(
    {"subject", "source", "issuer", "role", "groups", "claims", "session_name", "access_key_id"}
)
CONTEXT_KEYS = frozenset(
    {
        "source_ip",
        "tls",
        "presigned",
        "now",
        "content_type",
        "content_length",
        "list_prefix",
        "range",
    }
)


class CaseError(ValueError):
    """A case that cannot be understood (not a failed expectation)."""


@dataclass(frozen=True)
class Target:
    bucket: str
    key: str | None  # None: the bucket itself ("s3://traces")

    @classmethod
    def parse(cls, url: str) -> Target:
        if not url.startswith("s3://"):
            raise CaseError(f"{url!r}: write s3://bucket/key")
        bucket, sep, key = url[len("s3://") :].partition("/")
        if not bucket:
            raise CaseError(f"{url!r}: no bucket")
        return cls(bucket, key if sep else None)


@dataclass(frozen=True)
class Case:
    principal: Principal
    action: str
    target: Target
    context: Mapping[str, Any] = field(default_factory=dict)
    resource_type: str | None = None
    copy_source: Target | None = None


def principal_from(spec: Mapping[str, Any]) -> Principal:
    unknown = set(spec) - PRINCIPAL_KEYS
    if unknown:
        raise CaseError(f"unknown principal keys: {', '.join(sorted(unknown))}")
    if not isinstance(spec.get("subject"), str):
        raise CaseError("a principal needs a subject")
    source = spec.get("source", "session")
    if source not in ("session", "static"):
        raise CaseError("principal source is 'session' or 'static'")
    groups = spec.get("groups", [])
    claims = spec.get("claims", {})
    if not isinstance(groups, list) or not isinstance(claims, Mapping):
        raise CaseError("principal groups is a list, claims a mapping")
    return Principal(
        subject=spec["subject"],
        access_key_id=str(spec.get("access_key_id", "S3GTESTKEY")),
        source=source,
        groups=tuple(str(g) for g in groups),
        issuer=spec.get("issuer", "dev" if source == "session" else None),
        role=spec.get("role"),
        session_name=spec.get("session_name"),
        claims={str(k): str(v) for k, v in claims.items()},
    )


def context_from(operation: str, spec: Mapping[str, Any]) -> RequestContext:
    unknown = set(spec) - CONTEXT_KEYS
    if unknown:
        raise CaseError(f"unknown context keys: {', '.join(sorted(unknown))}")
    now = spec.get("now", DEFAULT_NOW)
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now)
        except ValueError as exc:
            raise CaseError(f"context.now: {exc}") from exc
    if not isinstance(now, datetime):
        raise CaseError("context.now is an ISO 8601 date and time")
    length = spec.get("content_length")
    if length is not None and not isinstance(length, int):
        raise CaseError("context.content_length is an integer")
    return RequestContext(
        operation=operation,
        source_ip=str(spec.get("source_ip", DEFAULT_IP)),
        tls=bool(spec.get("tls", False)),
        presigned=bool(spec.get("presigned", False)),
        now=now if now.tzinfo is not None else now.replace(tzinfo=UTC),
        content_type=spec.get("content_type"),
        content_length=length,
        list_prefix=spec.get("list_prefix"),
        range=spec.get("range"),
    )


def requests_of(case: Case) -> list[model.AccessRequest]:
    """The access requests the gateway would decide for this case."""
    ctx = context_from(case.action, case.context)
    p, t = case.principal, case.target
    if case.action in model.COPIES:
        if case.copy_source is None or case.copy_source.key is None:
            raise CaseError(f"{case.action} needs copy_source: s3://bucket/key")
        source = (case.copy_source.bucket, case.copy_source.key)
        return list(model.requests_for(p, case.action, t.bucket, t.key, ctx, copy_source=source))
    if case.action == "DeleteObjects":
        return model.delete_requests(p, t.bucket, [_key(t)], ctx)
    spec = model.ACTIONS.get(case.action)
    if spec is None:
        raise CaseError(f"{case.action!r} is neither a policy action nor a copy or DeleteObjects")
    kind = case.resource_type or spec.resources[0]
    if kind not in spec.resources:
        raise CaseError(f"{case.action} is decided on {' or '.join(spec.resources)}, not {kind}")
    if kind == "Bucket":
        resource = Resource.of_bucket(t.bucket)
    elif kind == "Prefix":
        prefix = ctx.list_prefix if ctx.list_prefix is not None else (t.key or "")
        resource = Resource.prefix(t.bucket, prefix)
    else:
        resource = Resource.object(t.bucket, _key(t))
    return [model.AccessRequest(p, case.action, resource, ctx)]


def _key(target: Target) -> str:
    if not target.key:
        raise CaseError("this action needs s3://bucket/key")
    return target.key


def decide_case(bundle: Bundle, case: Case) -> Decision:
    try:
        requests = requests_of(case)
    except ValueError as exc:
        raise CaseError(str(exc)) from exc
    return dec.combine(bundle.decide_many(requests))
