"""Break-glass read grants: a request, approved like a held write, that lets
its requester read `bucket/prefix*` under an `@approval` policy for a window.

A granted request leaves a marker the read path can find with one listing:

    <bucket>/.s3gate/grants/<requester digest>/<id>      (empty; names the hold)

The marker only points: every read re-reads the hold's sealed state and
request and checks status `granted`, the window, the requester (subject,
issuer and role), the bucket and prefix, and that the decision's approval
rules are the ones approved. Revocation and expiry swap the state first, so a
stale marker grants nothing.
"""

from __future__ import annotations

import hashlib

from s3gate import errors
from s3gate.approvals.model import HoldRequest
from s3gate.approvals.store import HoldStore
from s3gate.identity.principal import Principal
from s3gate.upstream.base import Body
from s3gate.upstream.purge import purge

GRANTS = ".s3gate/grants/"


def requester_digest(p: Principal) -> str:
    raw = "\x00".join([p.issuer or "", p.subject, p.role or ""]).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def marker(bucket_prefix_owner: str, hold_id: str) -> str:
    return f"{GRANTS}{bucket_prefix_owner}/{hold_id}"


def same_requester(request: HoldRequest, p: Principal) -> bool:
    r = request.requester
    return (r.subject, r.issuer, r.role) == (p.subject, p.issuer, p.role)


async def put_marker(store: HoldStore, request: HoldRequest) -> None:
    owner = requester_digest(request.requester.principal())
    await store.upstream.put_object(
        request.bucket, marker(owner, request.hold_id), Body.of(b""), {}
    )


async def drop_marker(store: HoldStore, request: HoldRequest) -> None:
    owner = requester_digest(request.requester.principal())
    await purge(store.upstream, request.bucket, [marker(owner, request.hold_id)])


async def candidates(store: HoldStore, bucket: str, p: Principal) -> list[str]:
    """Hold ids of the markers of `p` in `bucket`."""
    prefix = f"{GRANTS}{requester_digest(p)}/"
    try:
        page = await store.upstream.list_objects(bucket, prefix=prefix, max_keys=100)
    except errors.NoSuchBucket:
        return []
    return [o.key[len(prefix) :] for o in page.contents]
