"""The approvals admin API, under `/_s3gate/approvals/api/` (JSON).

    GET  /_s3gate/approvals/api/holds               pending holds the caller may decide
    GET  /_s3gate/approvals/api/holds/<id>          one hold, with the caller's preview
    POST /_s3gate/approvals/api/holds/<id>/approve  {"reason", "sha256", "bundle_hash"}
    POST /_s3gate/approvals/api/holds/<id>/deny     {"reason"}
    POST /_s3gate/approvals/api/holds/<id>/revoke   {"reason"}   (a granted read request)
    POST /_s3gate/approvals/api/grants              {"role", "bucket", "prefix", "reason",
                                                     "duration_seconds"}  (break-glass)

Every request is signed with SigV4 by the approver's own credentials (a
static key or an STS session), verified by the same authenticator as the S3
API, so the approver's identity and groups are the gateway's, never the
client's say-so. `s3gate approvals …` is the client. Errors are JSON
`{"error": code, "message": …}` with the error's HTTP status.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from s3gate import errors
from s3gate.accesslog import AccessLog
from s3gate.approvals.service import ApprovalService
from s3gate.audit.write.log import AuditLog
from s3gate.authn import Authenticator, RawRequest
from s3gate.handlers.outcome import Tally
from s3gate.identity.principal import Principal
from s3gate.s3.operations import Operation

log = logging.getLogger("s3gate.approvals")
BASE = "/_s3gate/approvals/api"
MAX_BODY = 16 * 1024


def api_routes(
    service: ApprovalService,
    authenticator: Authenticator,
    audit: AuditLog | None,
    access_log: AccessLog | None = None,
) -> list[BaseRoute]:
    async def authenticate(request: Request) -> tuple[Principal, dict[str, Any]]:
        raw = RawRequest.from_scope(request.scope, request.method)
        op = Operation("Approvals")
        authn = authenticator.authenticate(raw, op, request.stream())
        if audit is not None and not audit.accepting and not await audit.ensure_accepting():
            raise errors.ServiceUnavailable("The audit spool is unavailable")
        data: dict[str, Any] = {}
        if request.method == "POST":
            body = await authn.body.read_all(MAX_BODY)
            try:
                parsed = json.loads(body or b"{}")
            except ValueError as exc:
                raise errors.InvalidArgument("The body must be a JSON object") from exc
            if not isinstance(parsed, dict):
                raise errors.InvalidArgument("The body must be a JSON object")
            data = parsed
        return authn.principal, data

    async def guarded(request: Request, action: str) -> Response:
        """The answer, with its access-log line (operation
        `ApprovalsApi<Action>`, the hold id as the key, the signed principal,
        a refusal's code); what it changes is audited by the service."""
        started = time.perf_counter()
        tally = Tally(
            secrets.token_hex(8).upper(),
            request.method,
            source_ip=request.client.host if request.client else None,
            operation=f"ApprovalsApi{action.capitalize()}",
            key=request.path_params.get("hold_id"),
        )
        response = await answer(request, action, tally)
        response.headers["x-amz-request-id"] = tally.request_id
        if access_log is not None:
            access_log.attach(response, tally, started)
        return response

    async def answer(request: Request, action: str, tally: Tally) -> Response:
        try:
            who, data = await authenticate(request)
            tally.who(who)
            hold_id = request.path_params.get("hold_id", "")
            if action == "list":
                views = await service.list_for(who)
                return JSONResponse({"holds": [v.as_json(full=False) for v in views]})
            if action == "show":
                view = await service.show(hold_id, who)
                return JSONResponse(view.as_json(full=True))
            reason = _text(data, "reason")
            if action == "request":
                duration = data.get("duration_seconds")
                if not isinstance(duration, int) or isinstance(duration, bool):
                    raise errors.InvalidArgument("`duration_seconds` must be an integer")
                view = await service.request_grant(
                    who,
                    role=_text(data, "role"),
                    bucket=_text(data, "bucket"),
                    prefix=_text(data, "prefix"),
                    reason=reason,
                    duration_seconds=duration,
                    request_id=secrets.token_hex(8).upper(),
                )
                return JSONResponse(view.as_json(full=False))
            if action == "revoke":
                view = await service.revoke(hold_id, who, reason)
                return JSONResponse(view.as_json(full=False))
            if action == "approve":
                view = await service.approve(
                    hold_id, who, reason, _text(data, "sha256"), _text(data, "bundle_hash")
                )
            else:
                view = await service.deny(hold_id, who, reason)
            return JSONResponse(view.as_json(full=False))
        except errors.S3Error as exc:
            tally.error = exc.error_code
            return JSONResponse(
                {"error": exc.error_code, "message": exc.message}, status_code=exc.http_status
            )
        except Exception:  # fail closed, say nothing more
            log.exception("approvals API failed")
            tally.error = "InternalError"
            return JSONResponse(
                {"error": "InternalError", "message": errors.InternalError.default_message}, 500
            )

    async def list_holds(request: Request) -> Response:
        return await guarded(request, "list")

    async def show_hold(request: Request) -> Response:
        return await guarded(request, "show")

    async def approve_hold(request: Request) -> Response:
        return await guarded(request, "approve")

    async def deny_hold(request: Request) -> Response:
        return await guarded(request, "deny")

    async def revoke_hold(request: Request) -> Response:
        return await guarded(request, "revoke")

    async def request_grant(request: Request) -> Response:
        return await guarded(request, "request")

    return [
        Route(f"{BASE}/holds", list_holds, methods=["GET"]),
        Route(f"{BASE}/holds/{{hold_id}}", show_hold, methods=["GET"]),
        Route(f"{BASE}/holds/{{hold_id}}/approve", approve_hold, methods=["POST"]),
        Route(f"{BASE}/holds/{{hold_id}}/deny", deny_hold, methods=["POST"]),
        Route(f"{BASE}/holds/{{hold_id}}/revoke", revoke_hold, methods=["POST"]),
        Route(f"{BASE}/grants", request_grant, methods=["POST"]),
    ]


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise errors.InvalidArgument(f"`{name}` must be a string")
    return value
