"""Access requests → the Cedar JSON that `cedarpy` evaluates.

Must produce exactly what `policies/schema.cedarschema` describes: requests
are checked against the schema when decided, and one that does not conform is
denied (see `cedar.py`).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from s3gate.identity.principal import Principal
from s3gate.policy.model import RequestContext, Resource

JSON = dict[str, Any]
MAX_DIRS = 3


def principal_uid(principal: Principal) -> JSON:
    if principal.source == "static":
        return {"type": "Service", "id": principal.subject}
    # Subjects are only unique per issuer. Escaping "|" in the issuer keeps the
    # pair unambiguous (the subject may contain anything).
    issuer = (principal.issuer or "").replace("%", "%25").replace("|", "%7C")
    return {"type": "User", "id": f"{issuer}|{principal.subject}"}


def principal_key(principal: Principal) -> tuple[object, ...]:
    """Everything `principal_entity` reads, as a hashable value (cheaper than
    building the entity): equal keys give equal entities."""
    return (
        principal.source,
        principal.subject,
        principal.issuer,
        principal.role,
        principal.session_name,
        principal.groups,
        tuple(sorted(principal.claims.items())),
    )


def principal_entity(principal: Principal) -> JSON:
    attrs: JSON = {
        "subject": principal.subject,
        "issuer": principal.issuer or ("static" if principal.source == "static" else ""),
        "source": principal.source,
    }
    if principal.role is not None:
        attrs["role"] = principal.role
    if principal.session_name is not None:
        attrs["session_name"] = principal.session_name
    parents = [{"type": "Group", "id": g} for g in principal.groups]
    if principal.role is not None:
        parents.append({"type": "Role", "id": principal.role})
    # An empty claim is left out rather than passed as "": a rule comparing a
    # claim with a path segment must never match because both are empty.
    tags = {k: v for k, v in principal.claims.items() if isinstance(v, str) and v}
    return {"uid": principal_uid(principal), "attrs": attrs, "parents": parents, "tags": tags}


def resource_uid(resource: Resource) -> JSON:
    return {"type": resource.kind, "id": resource.uid}


def resource_attrs(resource: Resource) -> dict[str, str]:
    key = resource.key
    attrs = {
        "bucket": resource.bucket,
        "key": key,
        "path": f"{resource.bucket}/{key}",
        "name": "",
        "extension": "",
    }
    parts = key.split("/")
    # Only segments followed by "/" are directories: for the key "alpha" (or
    # the listing prefix "alpha", which also matches "alphabet/…") dir1 is absent.
    for i, segment in enumerate(parts[:-1][:MAX_DIRS], start=1):
        if segment:
            attrs[f"dir{i}"] = segment
    if resource.kind == "Object":
        name = parts[-1]
        stem, dot, ext = name.rpartition(".")
        attrs["name"] = name
        attrs["extension"] = ext.lower() if dot and stem else ""
    return attrs


def resource_entity(resource: Resource, attrs: dict[str, str] | None = None) -> JSON:
    parents = [] if resource.kind == "Bucket" else [{"type": "Bucket", "id": resource.bucket}]
    return {
        "uid": resource_uid(resource),
        "attrs": attrs if attrs is not None else resource_attrs(resource),
        "parents": parents,
    }


def context_record(context: RequestContext) -> JSON:
    now = context.now
    if now.tzinfo is None:
        raise ValueError("RequestContext.now must be timezone-aware")
    now = now.astimezone(UTC)
    record: JSON = {
        "operation": context.operation,
        "source_ip": {"__extn": {"fn": "ip", "arg": context.source_ip}},
        "tls": context.tls,
        "presigned": context.presigned,
        "now": {
            "epoch": int(now.timestamp()),
            "year": now.year,
            "month": now.month,
            "day": now.day,
            "hour": now.hour,
            "minute": now.minute,
            "weekday": now.isoweekday(),
        },
    }
    if context.content_type is not None:
        record["content_type"] = context.content_type.strip().lower()
    optional = {
        "content_length": context.content_length,
        "list_prefix": context.list_prefix,
        "copy_source": context.copy_source,
        "copy_destination": context.copy_destination,
        "range": context.range,
        "version_id": context.version_id,
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    return record


def action_uid(action: str) -> JSON:
    return {"type": "Action", "id": action}
