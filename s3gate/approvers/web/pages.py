"""The approvals web page: routes under `/_s3gate/approvals` (the JSON API
keeps `/_s3gate/approvals/api/`).

    GET  /_s3gate/approvals                    pending list (or the sign-in page)
    GET  /_s3gate/approvals/login              → the issuer's authorization endpoint
    GET  /_s3gate/approvals/callback           ?code&state → session cookie
    GET  /_s3gate/approvals/holds/<id>         detail, preview, approve/deny/revoke forms
    POST /_s3gate/approvals/holds/<id>/approve reason, sha256, bundle_hash, csrf
    POST /_s3gate/approvals/holds/<id>/deny    reason, csrf
    POST /_s3gate/approvals/holds/<id>/revoke  reason, csrf
    GET  /_s3gate/approvals/request            the break-glass request form
    POST /_s3gate/approvals/request            role, bucket, prefix, reason, duration, csrf
    POST /_s3gate/approvals/logout             csrf

Every decision goes through the same `ApprovalService` as the CLI's API, so
the same rules hold (approver groups, N of M, no self-approval, content-bound
votes, reasons); the page adds only sign-in, the session and CSRF defence.
The pieces: `browser.py` (cookies, the path of every request),
`signinpages.py` (sign-in and out), `holdpages.py` (holds and grants).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from s3gate.accesslog import AccessLog
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web import render
from s3gate.approvers.web.browser import Cookies, Frame
from s3gate.approvers.web.cookies import CookieSealer
from s3gate.approvers.web.holdpages import HoldPages
from s3gate.approvers.web.signin import SignIn
from s3gate.approvers.web.signinpages import SignInPages
from s3gate.audit.write.log import AuditLog
from s3gate.handlers.outcome import Tally
from s3gate.identity.roles import RoleBook

BASE = "/_s3gate/approvals"
Endpoint = Callable[[Request], Awaitable[Response]]


class WebPages:
    def __init__(
        self,
        settings: ApprovalSettings,
        service: ApprovalService,
        signin: SignIn,
        sealer: CookieSealer,
        roles: Callable[[], RoleBook | None],
        audit: AuditLog | None,
        clock: Callable[[], float] = time.time,
        access_log: AccessLog | None = None,
    ) -> None:
        self.signin = signin  # closed with the app
        self.access_log = access_log
        self.secure = (settings.web_redirect_url or "").startswith("https://")
        self.cookies = Cookies(sealer, self.secure, clock)
        self.session_cookie = self.cookies.session_name
        self.origin = settings.web_origin
        frame = Frame(self.cookies, self.origin, audit, signin.issuer.name)
        self.signin_pages = SignInPages(settings, signin, self.cookies, frame, roles)
        self.hold_pages = HoldPages(service, frame, roles, clock)

    async def _style(self, request: Request) -> Response:
        return render.style()

    def _logged(self, name: str, endpoint: Endpoint) -> Endpoint:
        """`endpoint` with its access-log line (operation `ApprovalsWeb<name>`,
        the hold id as the key, the signed-in subject and any refusal's code
        noted by the pages); no audit event, as for the gateway's other own
        endpoints: the decisions and views are audited by the service."""

        async def run(request: Request) -> Response:
            started = time.perf_counter()
            tally = Tally(
                secrets.token_hex(8).upper(),
                request.method,
                source_ip=request.client.host if request.client else None,
                operation=f"ApprovalsWeb{name}",
                key=request.path_params.get("hold_id"),
            )
            request.state.tally = tally
            response = await endpoint(request)
            response.headers["x-amz-request-id"] = tally.request_id
            if self.access_log is not None:
                self.access_log.attach(response, tally, started)
            return response

        return run

    def routes(self) -> list[BaseRoute]:
        sign, holds, logged = self.signin_pages, self.hold_pages, self._logged
        return [
            Route(BASE, logged("List", holds.home), methods=["GET"]),
            Route(f"{BASE}/", logged("List", holds.home), methods=["GET"]),
            Route(f"{BASE}/login", logged("Login", sign.login), methods=["GET"]),
            Route(f"{BASE}/callback", logged("Callback", sign.callback), methods=["GET"]),
            Route(f"{BASE}/logout", logged("Logout", sign.logout), methods=["POST"]),
            Route(f"{BASE}/static/style.css", logged("Style", self._style), methods=["GET"]),
            Route(f"{BASE}/request", logged("RequestForm", holds.request_form), methods=["GET"]),
            Route(f"{BASE}/request", logged("RequestGrant", holds.request_grant), methods=["POST"]),
            Route(f"{BASE}/holds/{{hold_id}}", logged("Detail", holds.detail), methods=["GET"]),
            Route(
                f"{BASE}/holds/{{hold_id}}/approve",
                logged("Approve", holds.approve),
                methods=["POST"],
            ),
            Route(f"{BASE}/holds/{{hold_id}}/deny", logged("Deny", holds.deny), methods=["POST"]),
            Route(
                f"{BASE}/holds/{{hold_id}}/revoke", logged("Revoke", holds.revoke), methods=["POST"]
            ),
        ]
