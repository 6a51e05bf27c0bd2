"""The gateway's own refusals that have no S3 code: held writes and the
approval workflow (docs/approvals.md), and the approvals web page's."""

from __future__ import annotations

from s3gate.errors.base import S3Error
from s3gate.errors.codes import AccessDenied


# Approvals (docs/approvals.md).
class HeldForApproval(AccessDenied):
    """A write kept in quarantine until approved. A 403, not a 2xx: an SDK
    treats any 2xx PutObject as stored, and retries neither (AccessDenied is
    not a retryable code), so the agent learns the truth at once and the
    hold id to quote."""

    def __init__(self, hold_id: str, rule: str, resource: str | None = None) -> None:
        self.hold_id = hold_id
        super().__init__(
            f"Held for approval: the object is not stored until approval rule {rule!r} "
            f"approves hold {hold_id}",
            resource=resource,
            extra={"HoldId": hold_id},
            headers={"x-s3gate-hold-id": hold_id},
        )


class NoSuchHold(S3Error):
    code = "NoSuchHold"
    status = 404
    default_message = "No pending approval has this id."


class ApprovalNotAllowed(S3Error):
    """Not an approver of this rule, self-approval, or a required reason missing."""

    code = "ApprovalNotAllowed"
    status = 403
    default_message = "You may not decide this approval."


class HoldChanged(S3Error):
    """The hold changed since it was reviewed (content, bundle or state): review again."""

    code = "HoldChanged"
    status = 409
    default_message = "The hold changed since it was reviewed; review it again."


# The approvals web page (approvers/web/): HTML pages, not S3 documents, but
# one class per refusal all the same.
class SignInRequired(S3Error):
    code = "SignInRequired"
    status = 401
    default_message = "Sign in to see approvals."


class SignInFailed(S3Error):
    """State, code, PKCE verifier, ID token or nonce refused (why: debug log)."""

    code = "SignInFailed"
    status = 403
    default_message = "The sign-in could not be completed. Start again."


class RequestForgery(S3Error):
    """A state-changing request without this session's CSRF token or from another Origin."""

    code = "RequestForgery"
    status = 403
    default_message = "The form is not from this page, or it is stale. Reload and try again."
