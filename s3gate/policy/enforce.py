"""The gateway's entry points: HTTP request facts → context → one decision.

    bundle = policies.current()                   # once per HTTP request
    ctx = context_from_http(op.name, headers=…, query=…, client_ip=…, tls=…,
                            presigned=auth.presigned, now=clock())
    decision = authorize(bundle, principal, op.name, op.bucket, op.key, ctx,
                         copy_source=…)           # CopyObject only
    if not decision.allowed: raise AccessDenied   # audit `decision.describe()`

Per-item operations (DeleteObjects, ListBuckets) and listing results use
`model.delete_requests` / `model.bucket_requests` / `model.listing_requests`
with `bundle.decide_many`, on the same bundle and context.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime

from s3gate.identity.principal import Principal
from s3gate.policy import decision as dec
from s3gate.policy import model
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.model import RequestContext
from s3gate.s3.numbers import whole_number

UNKNOWN_IP = "0.0.0.0"  # noqa: S104 - a value, not a bind address


def context_from_http(
    operation: str,
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    client_ip: str | None,
    tls: bool,
    presigned: bool,
    now: datetime,
    version_id: str | None = None,
) -> RequestContext:
    """`headers` with lower-case names. Missing or malformed values are left
    out (so rules that need them, written with `context has …`, do not match)."""
    return RequestContext(
        operation=operation,
        source_ip=_ip(client_ip),
        tls=tls,
        presigned=presigned,
        now=now,
        content_type=headers.get("content-type"),
        # aws-chunked bodies announce their real size separately.
        content_length=_length(
            headers.get("x-amz-decoded-content-length", headers.get("content-length"))
        ),
        list_prefix=query.get("prefix", "") if operation in model.LIST_ACTIONS else None,
        range=headers.get("range"),
        version_id=version_id,
    )


def authorize(
    bundle: Bundle,
    principal: Principal,
    operation: str,
    bucket: str,
    key: str | None,
    context: RequestContext,
    *,
    copy_source: tuple[str, str] | None = None,
) -> Decision:
    """The decision for a whole (non per-item) operation: for CopyObject, the
    source read and the destination write, both required, obligations merged."""
    requests = model.requests_for(
        principal, operation, bucket, key, context, copy_source=copy_source
    )
    return dec.combine(bundle.decide_many(requests))


def _ip(value: str | None) -> str:
    if not value:
        return UNKNOWN_IP
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:  # e.g. a unix socket peer
        return UNKNOWN_IP


def _length(value: str | None) -> int | None:
    return whole_number(value) if value is not None else None
