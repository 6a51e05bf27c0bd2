"""The operation's decision and what it requires before any handler runs:
the copy source a CopyObject is decided with, the refusal of a denial (the
class of reason for the client; the policy ids stay in the audit trail), the
refusal of an approval obligation the operation cannot meet, and the read
grant an approved GET/HEAD needs (docs/approvals.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from s3gate import errors
from s3gate.identity.principal import Principal
from s3gate.policy import denials, enforce
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.denials import DenialDetail
from s3gate.policy.model import COPIES, PER_ITEM_OPERATIONS, RequestContext
from s3gate.s3.copysource import parse_copy_source
from s3gate.s3.operations import Operation

if TYPE_CHECKING:  # approvals imports the masking layer; only annotations here
    from s3gate.approvals.service import ApprovalService

GRANT_READS = frozenset({"GetObject", "HeadObject"})
APPROVABLE = GRANT_READS | {"PutObject"}


def authorize(
    bundle: Bundle,
    principal: Principal,
    op: Operation,
    headers: Mapping[str, str],
    context: RequestContext,
) -> Decision | None:
    """The operation's decision, allowed or not (None for per-item
    operations — DeleteObjects, ListBuckets — decided item by item by their
    handlers, on the same bundle and context). A CopyObject or UploadPartCopy
    is decided with its source too."""
    if op.name in PER_ITEM_OPERATIONS:
        return None
    assert op.bucket is not None
    copy_source = None
    if op.name in COPIES:
        copy_source = parse_copy_source(headers["x-amz-copy-source"])
    return enforce.authorize(
        bundle, principal, op.name, op.bucket, op.key, context, copy_source=copy_source
    )


def require_allowed(
    decision: Decision,
    op: Operation,
    request_id: str,
    detail: DenialDetail,
    approvals: ApprovalService | None,
) -> None:
    """Raises AccessDenied for a denial, and for an approval obligation the
    operation cannot meet: only a PutObject can wait in quarantine, only
    GET/HEAD can use a read grant, and neither without an approvals service."""
    if not decision.allowed:
        raise errors.AccessDenied(
            denials.message(decision, request_id, detail), resource=op.resource
        )
    if decision.obligations.approvals and not (op.name in APPROVABLE and approvals is not None):
        raise errors.AccessDenied(
            "This request requires approval, which is only available for PutObject "
            "and for GetObject/HeadObject under a read grant",
            resource=op.resource,
        )


async def read_grant(
    decision: Decision,
    op: Operation,
    principal: Principal,
    request_id: str,
    approvals: ApprovalService | None,
) -> str | None:
    """The id of the approved grant a GET/HEAD under `@approval` reads by
    (its audit event, naming the grant, durable before anything is read);
    None when the read needs none. Raises when no grant covers it."""
    if not (decision.obligations.approvals and op.name in GRANT_READS):
        return None
    assert approvals is not None and op.bucket is not None
    return await approvals.authorize_read(principal, op.bucket, op.key or "", decision, request_id)
