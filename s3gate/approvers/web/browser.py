"""The web page's side of the browser: its two cookies (names, attributes,
opening them) and the one path every GET and POST takes before a page acts
(session, origin, form and CSRF token, a working audit spool), with the
pages every handler may answer (sign-in, refusal, done).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from s3gate import errors
from s3gate.approvers.web import guard, render
from s3gate.approvers.web.cookies import CookieSealer, LoginState, WebSession
from s3gate.audit.write.log import AuditLog
from s3gate.handlers.outcome import Tally

log = logging.getLogger("s3gate.approvers.web")


def note(
    request: Request, session: WebSession | None = None, error: errors.S3Error | None = None
) -> None:
    """Facts for the request's access-log line (`pages.py` starts the line's
    `Tally` and writes it when the answer is sent): who, and the refusal."""
    tally: Tally | None = getattr(request.state, "tally", None)
    if tally is None:
        return
    if session is not None:
        # As `holdpages.HoldPages.principal` names the session's principal.
        tally.principal, tally.access_key_id = session.subject, f"web-{session.sid}"
    if error is not None:
        tally.error = error.error_code


GetAction = Callable[[Request, WebSession], Awaitable[Response]]
PostAction = Callable[[Request, WebSession, dict[str, str]], Awaitable[Response]]


class Cookies:
    """The session and login cookies of the page."""

    def __init__(self, sealer: CookieSealer, secure: bool, clock: Callable[[], float]) -> None:
        self.sealer = sealer
        self.secure = secure
        self.clock = clock
        # `__Host-`: Secure, Path=/, no Domain — only possible over https.
        prefix = "__Host-" if secure else ""
        self.session_name = f"{prefix}s3gate-approvals"
        self.login_name = f"{prefix}s3gate-approvals-login"

    def session_of(self, request: Request) -> WebSession | None:
        return self.sealer.session(
            self.session_name, request.cookies.get(self.session_name), self.clock()
        )

    def login_of(self, request: Request) -> LoginState | None:
        return self.sealer.login(
            self.login_name, request.cookies.get(self.login_name), self.clock()
        )

    def set(self, response: Response, name: str, value: str, max_age: int, lax: bool) -> None:
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

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True)


class Frame:
    """What every handler runs inside, and the pages it may answer with."""

    def __init__(self, cookies: Cookies, origin: str, audit: AuditLog | None, issuer: str) -> None:
        self.cookies = cookies
        self.origin = origin
        self.audit = audit
        self.issuer = issuer

    async def post(self, request: Request, act: PostAction) -> Response:
        """Origin, then session, then form and CSRF token; only then `act`."""
        session: WebSession | None = None
        try:
            guard.check_origin(request, self.origin)
            session = self.cookies.session_of(request)
            if session is None:
                raise errors.RequestForgery("Your session ended: sign in again.")
            note(request, session)
            form = await guard.read_form(request)
            guard.check_csrf(form, session)
            await self._audit_ready()
            return await act(request, session, form)
        except errors.RequestForgery as exc:
            # Someone's form or cookie was not this page's: worth a line for
            # the operator (never the cookie, token or form; the path names
            # the hold).
            client = request.client.host if request.client else "?"
            log.warning(
                "approvals web: refused POST %s from %s (%s): %s",
                request.url.path,
                client,
                session.subject if session is not None else "no session",
                exc.message,
            )
            note(request, error=exc)
            return self.message(session, exc)
        except errors.S3Error as exc:
            note(request, error=exc)
            return self.message(session, exc)
        except Exception:  # fail closed, say nothing more
            log.exception("approvals web page failed")
            note(request, error=errors.InternalError())
            return self.message(session, errors.InternalError())

    async def get(self, request: Request, act: GetAction) -> Response:
        session = self.cookies.session_of(request)
        if session is None:
            return self.signin_page(None, 401)
        note(request, session)
        try:
            await self._audit_ready()  # `show` records who viewed what
            return await act(request, session)
        except errors.S3Error as exc:
            note(request, error=exc)
            return self.message(session, exc)
        except Exception:
            log.exception("approvals web page failed")
            note(request, error=errors.InternalError())
            return self.message(session, errors.InternalError())

    async def _audit_ready(self) -> None:
        audit = self.audit
        if audit is not None and not audit.accepting and not await audit.ensure_accepting():
            raise errors.ServiceUnavailable("The audit spool is unavailable")

    def signin_page(
        self, message: str | None, status: int, headers: Mapping[str, str] = guard.HEADERS
    ) -> Response:
        return render.page(
            "signin.html",
            status,
            headers,
            session=None,
            message=message,
            issuer=self.issuer,
        )

    def message(self, session: WebSession | None, exc: errors.S3Error) -> Response:
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

    def done(self, session: WebSession, title: str, message: str, hold_id: str | None) -> Response:
        return render.page(
            "message.html",
            session=session,
            title=title,
            error=False,
            code=None,
            message=message,
            hold_id=hold_id,
        )
