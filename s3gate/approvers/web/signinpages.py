"""The sign-in pages: the redirect to the issuer, its callback (which makes
the session cookie) and sign-out. `signin.py` speaks the OIDC code flow;
these pages carry it through the browser's cookies."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from s3gate import errors
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web import guard, render
from s3gate.approvers.web.browser import Cookies, Frame, note
from s3gate.approvers.web.cookies import WebSession
from s3gate.approvers.web.signin import SignIn
from s3gate.identity.claims import WebIdentity
from s3gate.identity.roles import RoleBook

log = logging.getLogger("s3gate.approvers.web")


def trusted_roles(book: RoleBook | None, who: WebIdentity) -> tuple[str, ...]:
    """Role names whose trust admits this identity (as STS would decide)."""
    if book is None:
        return ()
    return tuple(r.name for r in book if any(rule.allows(who) for rule in r.trust))


class SignInPages:
    def __init__(
        self,
        settings: ApprovalSettings,
        signin: SignIn,
        cookies: Cookies,
        frame: Frame,
        roles: Callable[[], RoleBook | None],
    ) -> None:
        self.settings = settings
        self.signin = signin
        self.cookies = cookies
        self.frame = frame
        self.roles = roles

    async def login(self, request: Request) -> Response:
        cookies = self.cookies
        login = SignIn.new_login(cookies.clock(), self.settings.web_login_seconds)
        try:
            url = await self.signin.authorize_url(login)
        except errors.S3Error as exc:
            note(request, error=exc)
            return self.frame.signin_page(exc.message, exc.http_status)
        response = RedirectResponse(url, 302, headers=dict(guard.HEADERS))
        cookies.set(
            response,
            cookies.login_name,
            cookies.sealer.seal(cookies.login_name, login),
            self.settings.web_login_seconds,
            lax=True,
        )
        return response

    async def callback(self, request: Request) -> Response:
        cookies = self.cookies
        login = cookies.login_of(request)
        query = request.query_params
        try:
            if login is None or "error" in query:
                raise errors.SignInFailed()
            who = await self.signin.finish(login, query.get("state", ""), query.get("code", ""))
            now = cookies.clock()
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
                sealed = cookies.sealer.seal(cookies.session_name, session)
            except ValueError:
                log.warning(
                    "approvals web: the identity of %r is too large for a cookie", who.subject
                )
                raise errors.SignInFailed(
                    "Your identity carries too many groups for a session."
                ) from None
        except errors.S3Error as exc:
            note(request, error=exc)
            response: Response = self.frame.signin_page(
                exc.message, exc.http_status, guard.CALLBACK_HEADERS
            )
            cookies.clear(response, cookies.login_name)
            return response
        log.info("approvals web: %s of issuer %s signed in", who.subject, who.issuer)
        note(request, session)
        # A page of our own, not a redirect: the next request is then started
        # by our origin, so the browser sends the SameSite=Strict cookie.
        response = render.page("continue.html", headers=guard.CALLBACK_HEADERS, session=None)
        cookies.clear(response, cookies.login_name)
        cookies.set(
            response,
            cookies.session_name,
            sealed,
            max(1, int(session.expires - cookies.clock())),
            lax=False,
        )
        return response

    async def logout(self, request: Request) -> Response:
        return await self.frame.post(request, self._do_logout)

    async def _do_logout(
        self, request: Request, session: WebSession, form: dict[str, str]
    ) -> Response:
        response = self.frame.signin_page("Signed out.", 200)
        self.cookies.clear(response, self.cookies.session_name)
        return response
