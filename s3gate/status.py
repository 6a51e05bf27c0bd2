"""Readiness for probes, and the gateway's detailed status for operators.

`/_s3gate/readyz` is unauthenticated (kubelets and load balancers call it), so
it answers a status and nothing else: the bundle hash, key ids, replica ids
and backlog would tell an outsider which policy version runs, when it
changed and how far the audit trail lags.

`/_s3gate/status` has the details. It takes a SigV4-signed GET (any S3
client's signer: `curl --aws-sigv4`, botocore) and answers only a principal
the policies allow `HeadBucket` on the audit bucket: whoever may see the
audit trail may see how far behind it is. Everyone else gets AccessDenied.
Each status request, answered or refused, has an access-log line. It has no
audit event, like the other `/_s3gate/` endpoints: it reads the gateway's
state, not the store, and it must keep answering when the audit spool cannot
take events — that is when an operator needs it most.
Decided this way so that no new Cedar action and no second port is needed;
see docs/threat-model.md.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from s3gate import errors
from s3gate.accesslog import AccessLog
from s3gate.authn import Authenticator, RawRequest
from s3gate.handlers.outcome import Tally
from s3gate.policy import enforce
from s3gate.policy.store import PolicyStore
from s3gate.s3.errorpage import error_response
from s3gate.s3.operations import Operation

STATUS_PATH = "/_s3gate/status"
# How status requests appear in the access log and the audit trail.
OPERATION = "GetGatewayStatus"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    details: Mapping[str, Any]


Check = Callable[[], Awaitable[Readiness]]


def coalesced(check: Check) -> Check:
    """`check` with concurrent callers sharing the run in flight: readiness
    is public and each run costs upstream requests (a ListBuckets probe, a
    HeadBucket of the audit bucket), so a flood of unauthenticated probes
    costs the store one check at a time, never one per probe. A caller that
    arrives when no run is in flight starts a fresh one (no stale answers)."""
    running: list[asyncio.Task[Readiness]] = []

    async def run() -> Readiness:
        if not running or running[0].done():
            running[:] = [asyncio.ensure_future(check())]
        return await asyncio.shield(running[0])

    return run


def readyz(check: Check) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        result = await check()
        status = "ready" if result.ready else "unavailable"
        return JSONResponse({"status": status}, 200 if result.ready else 503)

    return endpoint


@dataclass(frozen=True)
class StatusAccess:
    """What the status endpoint needs to authenticate, decide and record."""

    authenticator: Authenticator
    policies: PolicyStore
    audit_bucket: str
    clock: Callable[[], datetime]
    access_log: AccessLog


def status(check: Check, access: StatusAccess) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = secrets.token_hex(8).upper()
        tally = Tally(request_id, request.method, operation=OPERATION)
        try:
            _authorize(request, access, tally)
            result = await check()
            body = {"status": "ready" if result.ready else "unavailable", **result.details}
            response: Response = JSONResponse(body, 200)
        except errors.S3Error as exc:
            tally.error = exc.error_code
            response = error_response(exc, request.method, request_id, STATUS_PATH)
        response.headers["x-amz-request-id"] = request_id
        access.access_log.attach(response, tally, started)
        return response

    return endpoint


def _authorize(request: Request, access: StatusAccess, tally: Tally) -> None:
    raw = RawRequest.from_scope(request.scope, request.method)
    authn = access.authenticator.authenticate(raw, Operation(OPERATION), request.stream())
    tally.who(authn.principal)
    context = enforce.context_from_http(
        "HeadBucket",
        headers=raw.headers,
        query={},
        client_ip=request.client.host if request.client else None,
        tls=request.url.scheme == "https",
        presigned=authn.presigned,
        now=access.clock(),
    )
    decision = enforce.authorize(
        access.policies.current(), authn.principal, "HeadBucket", access.audit_bucket, None, context
    )
    if not decision.allowed:
        raise errors.AccessDenied(
            "Access Denied: the gateway status is shown to principals allowed HeadBucket on "
            f"the audit bucket (request id {tally.request_id})",
            resource=STATUS_PATH,
        )
