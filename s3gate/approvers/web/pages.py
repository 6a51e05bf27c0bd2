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
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from s3gate import errors
from s3gate.approvals.rules import parse_duration
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web import guard, render
from s3gate.approvers.web.cookies import CookieSealer, WebSession
from s3gate.approvers.web.signin import SignIn
from s3gate.audit.write.log import AuditLog
from s3gate.identity.claims import WebIdentity
from s3gate.identity.principal import Principal
from s3gate.identity.roles import RoleBook

log = logging.getLogger("s3gate.approvers.web")
BASE = "/_s3gate/approvals"


def trusted_roles(book: RoleBook | None, who: WebIdentity) -> tuple[str, ...]:
    """Role names whose trust admits this identity (as STS would decide)."""
    if book is None:
        return ()
    return tuple(r.name for r in book if any(rule.allows(who) for rule in r.trust))


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
    ) -> None:
        self.settings = settings
        self.service = service
        self.signin = signin
        self.sealer = sealer
        self.roles = roles
        self.audit = audit
        self.clock = clock
        # `__Host-`: Secure, Path=/, no Domain — only possible over https.
        self.secure = (settings.web_redirect_url or "").startswith("https://")
        prefix = "__Host-" if self.secure else ""
        self.session_cookie = f"{prefix}s3gate-approvals"
        self.login_cookie = f"{prefix}s3gate-approvals-login"
        self.origin = settings.web_origin

    # -- sessions -------------------------------------------------------------------

    def session_of(self, request: Request) -> WebSession | None:
        return self.sealer.session(
            self.session_cookie, request.cookies.get(self.session_cookie), self.clock()
        )

    def principal(self, session: WebSession, role: str | None = None) -> Principal:
        arn = None
        if role is not None:
            book = self.roles()
            found = [r for r in (book or ()) if r.name == role]
            arn = found[0].arn if found else None
        return Principal(
            subject=session.subject,
            access_key_id=f"web-{session.sid}",
            source="session",
            groups=session.groups,
            issuer=session.issuer,
            role=role,
            role_arn=arn,
            claims=MappingProxyType(dict(session.claims)),
            expires=datetime.fromtimestamp(session.expires, UTC),
        )

    def _set(self, response: Response, name: str, value: str, max_age: int, lax: bool) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            # The login cookie must come back on the issuer's redirect (a
            # top-level GET from another site): Lax. The session: Strict.
            samesite="lax" if lax else "strict",
        )

    def _clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True)

    # -- handlers -------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            holds = await self.service.list_for(self.principal(session))
            return render.page("list.html", session=session, holds=holds, now=self.clock())

        return await self._get(request, act)

    async def login(self, request: Request) -> Response:
        login = SignIn.new_login(self.clock(), self.settings.web_login_seconds)
        try:
            url = await self.signin.authorize_url(login)
        except errors.S3Error as exc:
            return self._signin_page(exc.message, exc.http_status)
        response = RedirectResponse(url, 302, headers=dict(guard.HEADERS))
        self._set(
            response,
            self.login_cookie,
            self.sealer.seal(self.login_cookie, login),
            self.settings.web_login_seconds,
            lax=True,
        )
        return response

    async def callback(self, request: Request) -> Response:
        login = self.sealer.login(
            self.login_cookie, request.cookies.get(self.login_cookie), self.clock()
        )
        query = request.query_params
        try:
            if login is None or "error" in query:
                raise errors.SignInFailed()
            who = await self.signin.finish(login, query.get("state", ""), query.get("code", ""))
            now = self.clock()
            session = WebSession(
                subject=who.subject,
                issuer=who.issuer,
                groups=who.groups,
                roles=trusted_roles(self.roles(), who),
                claims=dict(who.claims),
                csrf=secrets.token_urlsafe(32),
                sid=secrets.token_hex(8),
                # Our own lifetime from sign-in, not the ID token's `exp`: the
                # token proved who signed in, it is not kept.
                expires=now + self.settings.web_session_seconds,
            )
            try:
                sealed = self.sealer.seal(self.session_cookie, session)
            except ValueError:
                log.warning(
                    "approvals web: the identity of %r is too large for a cookie", who.subject
                )
                raise errors.SignInFailed(
                    "Your identity carries too many groups for a session."
                ) from None
        except errors.S3Error as exc:
            response: Response = self._signin_page(exc.message, exc.http_status)
            self._clear(response, self.login_cookie)
            return response
        log.info("approvals web: %s of issuer %s signed in", who.subject, who.issuer)
        # A page of our own, not a redirect: the next request is then started
        # by our origin, so the browser sends the SameSite=Strict cookie.
        response = render.page("continue.html", session=None)
        self._clear(response, self.login_cookie)
        self._set(
            response,
            self.session_cookie,
            sealed,
            max(1, int(session.expires - self.clock())),
            lax=False,
        )
        return response

    async def logout(self, request: Request) -> Response:
        return await self._post(request, self._do_logout)

    async def _do_logout(
        self, request: Request, session: WebSession, form: dict[str, str]
    ) -> Response:
        response = self._signin_page("Signed out.", 200)
        self._clear(response, self.session_cookie)
        return response

    async def detail(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            hold_id = request.path_params["hold_id"]
            view = await self.service.show(hold_id, self.principal(session))
            return render.page("detail.html", session=session, view=view, now=self.clock())

        return await self._get(request, act)

    async def approve(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            view = await self.service.approve(
                hold_id,
                self.principal(session),
                form.get("reason", ""),
                form.get("sha256", ""),
                form.get("bundle_hash", ""),
            )
            done = (
                "released into its key"
                if view.state.status == "released"
                else (f"vote recorded ({view.valid_votes} valid); status {view.state.status}")
            )
            return self._done(session, "Approved", f"Approved: {done}.", hold_id)

        return await self._post(request, act)

    async def deny(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            await self.service.deny(hold_id, self.principal(session), form.get("reason", ""))
            return self._done(
                session, "Denied", "Denied: the quarantined bytes are destroyed.", None
            )

        return await self._post(request, act)

    async def revoke(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            role = form.get("role") or None
            if role is not None and role not in session.roles:
                raise errors.ApprovalNotAllowed("You may not act in that role")
            await self.service.revoke(
                hold_id, self.principal(session, role), form.get("reason", "")
            )
            return self._done(session, "Revoked", "Revoked: the grant reads nothing more.", None)

        return await self._post(request, act)

    async def request_form(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            return render.page("request.html", session=session)

        return await self._get(request, act)

    async def request_grant(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            role = form.get("role", "")
            if role not in session.roles:
                raise errors.ApprovalNotAllowed(
                    "Your identity is not trusted for that role (policies/roles.yaml)"
                )
            try:
                seconds = parse_duration(form.get("duration", ""), "duration")
            except ValueError as exc:
                raise errors.InvalidArgument(str(exc)) from None
            view = await self.service.request_grant(
                self.principal(session, role),
                role=role,
                bucket=form.get("bucket", ""),
                prefix=form.get("prefix", ""),
                reason=form.get("reason", ""),
                duration_seconds=seconds,
                request_id=secrets.token_hex(8).upper(),
            )
            waits = ", ".join(f"{r.name} ({r.required})" for r in view.rules)
            return self._done(
                session,
                "Requested",
                f"Requested: waiting for {waits}. Read it with a session of role {role}.",
                view.request.hold_id,
            )

        return await self._post(request, act)

    # -- the one path of every POST ---------------------------------------------------

    async def _post(
        self,
        request: Request,
        act: Callable[[Request, WebSession, dict[str, str]], Awaitable[Response]],
    ) -> Response:
        """Origin, then session, then form and CSRF token; only then `act`."""
        session: WebSession | None = None
        try:
            guard.check_origin(request, self.origin)
            session = self.session_of(request)
            if session is None:
                raise errors.RequestForgery("Your session ended: sign in again.")
            form = await guard.read_form(request)
            guard.check_csrf(form, session)
            await self._audit_ready()
            return await act(request, session, form)
        except errors.S3Error as exc:
            return self._message(session, exc)
        except Exception:  # fail closed, say nothing more
            log.exception("approvals web page failed")
            return self._message(session, errors.InternalError())

    async def _get(
        self, request: Request, act: Callable[[Request, WebSession], Awaitable[Response]]
    ) -> Response:
        session = self.session_of(request)
        if session is None:
            return self._signin_page(None, 401)
        try:
            await self._audit_ready()  # `show` records who viewed what
            return await act(request, session)
        except errors.S3Error as exc:
            return self._message(session, exc)
        except Exception:
            log.exception("approvals web page failed")
            return self._message(session, errors.InternalError())

    async def _audit_ready(self) -> None:
        audit = self.audit
        if audit is not None and not audit.accepting and not await audit.ensure_accepting():
            raise errors.ServiceUnavailable("The audit spool is unavailable")

    def _signin_page(self, message: str | None, status: int) -> Response:
        return render.page(
            "signin.html", status, session=None, message=message, issuer=self.signin.issuer.name
        )

    def _message(self, session: WebSession | None, exc: errors.S3Error) -> Response:
        return render.page(
            "message.html",
            exc.http_status,
            session=session,
            title="Refused",
            error=True,
            code=exc.error_code,
            message=exc.message,
            hold_id=None,
        )

    def _done(self, session: WebSession, title: str, message: str, hold_id: str | None) -> Response:
        return render.page(
            "message.html",
            session=session,
            title=title,
            error=False,
            code=None,
            message=message,
            hold_id=hold_id,
        )

    async def _style(self, request: Request) -> Response:
        return render.style()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(BASE, self.home, methods=["GET"]),
            Route(f"{BASE}/", self.home, methods=["GET"]),
            Route(f"{BASE}/login", self.login, methods=["GET"]),
            Route(f"{BASE}/callback", self.callback, methods=["GET"]),
            Route(f"{BASE}/logout", self.logout, methods=["POST"]),
            Route(f"{BASE}/static/style.css", self._style, methods=["GET"]),
            Route(f"{BASE}/request", self.request_form, methods=["GET"]),
            Route(f"{BASE}/request", self.request_grant, methods=["POST"]),
            Route(f"{BASE}/holds/{{hold_id}}", self.detail, methods=["GET"]),
            Route(f"{BASE}/holds/{{hold_id}}/approve", self.approve, methods=["POST"]),
            Route(f"{BASE}/holds/{{hold_id}}/deny", self.deny, methods=["POST"]),
            Route(f"{BASE}/holds/{{hold_id}}/revoke", self.revoke, methods=["POST"]),
        ]
