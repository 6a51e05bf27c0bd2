"""The key that seals quarantined writes and approval state: shared by every
replica (derived from the session keys, `identity.sharedkeys`), so any one
can release a held write."""

from __future__ import annotations

from s3gate.identity.settings import IdentitySettings
from s3gate.identity.sharedkeys import APPROVALS, APPROVALS_WEB, Ring, shared_or_local


def approval_keys(identity: IdentitySettings) -> Ring:
    return shared_or_local(identity, APPROVALS, "held writes can only be decided by this process")


def approval_web_keys(identity: IdentitySettings) -> Ring:
    """The key that seals the web page's cookies (sessions, sign-ins under
    way), shared so that any replica serves the next page."""
    return shared_or_local(
        identity, APPROVALS_WEB, "approvals web sessions end when this process does"
    )
