"""The ASGI application: the S3 catch-all route plus `/_s3gate/` endpoints.

No S3 bucket name can start with `_`, so the gateway's own endpoints never
shadow a bucket. The boxes behind the routes are built by `assembly.py` and
started and stopped by `lifecycle.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import Receive, Scope, Send

from s3gate import errors
from s3gate.approvers.api import api_routes
from s3gate.assembly import assemble
from s3gate.audit.routes import keys_endpoint
from s3gate.config import Settings
from s3gate.lifecycle import lifespan_of, readiness_check
from s3gate.status import StatusAccess, coalesced, readyz, status
from s3gate.upstream.base import Upstream


def create_app(
    settings: Settings,
    upstream: Upstream | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    refusals: Mapping[str, int] | None = None,
) -> Starlette:
    """The app; `refusals` are the HTTP protocol's refusal counts
    (`httplimits.Refusals.counts`), exported as metrics when given."""
    boxes = assemble(settings, upstream, refusals)
    gateway, metrics, audit, approvals, web = (
        boxes.gateway,
        boxes.metrics,
        boxes.audit,
        boxes.approvals,
        boxes.web,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    readiness = readiness_check(settings, boxes)
    # Public: one check at a time, however many probes arrive together.
    shared_readiness = coalesced(readiness)

    s3_api = _AllMethods(gateway.handle)
    routes = [
        Route("/_s3gate/healthz", healthz, methods=["GET"]),
        Route("/_s3gate/readyz", readyz(shared_readiness), methods=["GET"]),
        Route(
            "/_s3gate/status",
            status(
                readiness,  # authenticated: no flood to absorb, always fresh
                StatusAccess(
                    gateway.authenticator,
                    boxes.policies,
                    settings.audit.bucket,
                    gateway.clock,
                    gateway.access_log,
                ),
            ),
            methods=["GET"],
        ),
        *([Route("/_s3gate/metrics", metrics.endpoint, methods=["GET"])] if metrics else []),
        *([Route("/_s3gate/audit/keys", keys_endpoint(audit))] if audit is not None else []),
        *(
            api_routes(approvals, gateway.authenticator, audit, gateway.access_log)
            if approvals is not None
            else []
        ),
        *(web.routes() if web is not None else []),
        *extra_routes,
        # Every method (an ASGI endpoint; Starlette limits a function endpoint
        # to GET): one the S3 API does not define is answered by the
        # gateway (MethodNotAllowed / NotImplemented, audited), not Starlette.
        Route("/{path:path}", s3_api),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        # A safety net: every path and method reaches a route (a gateway
        # endpoint asked with another method is an S3 request to the bucket
        # "_s3gate", InvalidBucketName), but should Starlette refuse a request
        # itself, the answer is S3 XML and audited all the same.
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        error = errors.MethodNotAllowed() if status == 405 else errors.InvalidRequest()
        return await gateway.refuse(request, error)

    app = Starlette(
        routes=routes,
        lifespan=lifespan_of(settings, boxes),
        exception_handlers={HTTPException: refused},
    )
    # A path that even the catch-all does not match (its pattern stops at a
    # line break: `%0A` in a path) goes to the gateway too, which answers
    # S3 XML with a request id and an audit event, never a plain-text 404.
    app.router.default = s3_api
    return app


class _AllMethods:
    """A request handler as an ASGI app object: a Route given one (rather
    than a function) matches every method."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
