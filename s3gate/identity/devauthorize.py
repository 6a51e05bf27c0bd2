"""The dev issuer's authorization code flow with PKCE (S256), for the
approvals web page of `s3gate dev`. DEVELOPMENT ONLY: anyone who can reach
`/authorize` picks any user and groups.

    GET  <issuer>/authorize   a form: the developer types a user and groups
    POST <issuer>/authorize   issues a code, 302 to redirect_uri?code=…&state=…
    POST <issuer>/token       code + code_verifier → ID token (JSON)

What the flow still checks, as a real issuer does, so the gateway's client is
exercised against the rules it must live with: the client id and its exact
registered redirect URI, `response_type=code`, a `state`, a `nonce` (put in
the ID token), an S256 `code_challenge`; at the token endpoint the same client
and redirect URI, the verifier against the challenge (constant time), codes
used once (a second use fails, RFC 6749 §4.1.2) and valid CODE_SECONDS.

Codes live in this process's memory: the dev gateway is one process.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from s3gate.identity.devissuer import PATH, DevIssuer

CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300
MAX_FORM_BYTES = 16 * 1024
MAX_PENDING_CODES = 1000
# RFC 7636 §4.1: 43..128 unreserved characters (both verifier and S256 challenge).
_PKCE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_NAME = re.compile(r"[A-Za-z0-9@._+-]{1,128}")
_PARAMS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge")
_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": "default-src 'none'; form-action 'self' http: https:; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    subject: str
    groups: tuple[str, ...]
    expires: float


class DevAuthorizer:
    """`clients` maps each client id to its one registered redirect URI."""

    def __init__(
        self,
        issuer: DevIssuer,
        clients: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.clients = dict(clients)
        self._clock = clock
        self._codes: dict[str, _Code] = {}

    # -- the authorization endpoint -------------------------------------------------

    def check_request(self, params: Mapping[str, str]) -> str | None:
        """What is wrong with an authorization request, or None."""
        client = params.get("client_id", "")
        if client not in self.clients:
            return "unknown client_id"
        if not secrets.compare_digest(params.get("redirect_uri", ""), self.clients[client]):
            return "redirect_uri is not the client's registered one"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256":
            return "code_challenge_method must be S256"
        if not _PKCE.fullmatch(params.get("code_challenge", "")):
            return "code_challenge missing or malformed"
        for name in ("state", "nonce"):
            if not 16 <= len(params.get(name, "")) <= 256:
                return f"{name} missing (16..256 characters)"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        return None

    def issue_code(self, params: Mapping[str, str], subject: str, groups: tuple[str, ...]) -> str:
        now = self._clock()
        self._codes = {c: v for c, v in self._codes.items() if v.expires > now}
        if len(self._codes) >= MAX_PENDING_CODES:
            raise ValueError("too many pending codes")
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            params["client_id"],
            params["redirect_uri"],
            params["code_challenge"],
            params["nonce"],
            subject,
            groups,
            now + CODE_SECONDS,
        )
        return code

    # -- the token endpoint ---------------------------------------------------------

    def exchange(self, form: Mapping[str, str]) -> tuple[int, dict[str, object]]:
        """(HTTP status, JSON body) of a token request."""
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        # Removed whatever happens next: a code is good for one attempt only.
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or self._clock() >= code.expires:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("client_id") != code.client_id:
            return 400, {"error": "invalid_grant", "error_description": "another client's code"}
        if not secrets.compare_digest(form.get("redirect_uri", ""), code.redirect_uri):
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if not _PKCE.fullmatch(verifier) or not secrets.compare_digest(
            s256(verifier), code.challenge
        ):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        token = self.issuer.mint_token(
            code.subject,
            code.groups,
            ttl=ID_TOKEN_SECONDS,
            audience=code.client_id,
            extra={"nonce": code.nonce},
        )
        return 200, {
            "id_token": token,
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(16),  # required by RFC 6749; unused
            "expires_in": ID_TOKEN_SECONDS,
        }

    # -- HTTP -------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        async def authorize_page(request: Request) -> Response:
            params = {k: v for k, v in request.query_params.items()}
            problem = self.check_request(params)
            if problem is not None:
                return _page(f"<p>Refused: {html.escape(problem)}</p>", 400)
            return _page(_form(params), 200)

        async def authorize_submit(request: Request) -> Response:
            form = await _read_form(request)
            if form is None:
                return _page("<p>Refused: form too large or malformed</p>", 400)
            problem = self.check_request(form)
            if problem is not None:
                return _page(f"<p>Refused: {html.escape(problem)}</p>", 400)
            subject = form.get("sub", "").strip()
            groups = tuple(g.strip() for g in form.get("groups", "").split(",") if g.strip())
            if not _NAME.fullmatch(subject) or not all(_NAME.fullmatch(g) for g in groups):
                return _page("<p>Refused: user and groups: letters, digits, @._+-</p>", 400)
            try:
                code = self.issue_code(form, subject, groups)
            except ValueError:
                return _page("<p>Refused: too many pending sign-ins</p>", 503)
            query = urlencode({"code": code, "state": form["state"]})
            return RedirectResponse(f"{form['redirect_uri']}?{query}", 302, headers=_HEADERS)

        async def token(request: Request) -> Response:
            form = await _read_form(request)
            if form is None:
                return JSONResponse({"error": "invalid_request"}, 400, headers=_HEADERS)
            status, body = self.exchange(form)
            return JSONResponse(body, status, headers=_HEADERS)

        return [
            Route(f"{PATH}/authorize", authorize_page, methods=["GET"]),
            Route(f"{PATH}/authorize", authorize_submit, methods=["POST"]),
            Route(f"{PATH}/token", token, methods=["POST"]),
        ]


async def _read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded body within MAX_FORM_BYTES, one value per name."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        parsed = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    if any(len(v) != 1 for v in parsed.values()):
        return None
    return {k: v[0] for k, v in parsed.items()}


def _form(params: Mapping[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{n}" value="{html.escape(params.get(n, ""))}">'
        for n in (*_PARAMS, "response_type", "code_challenge_method", "scope")
    )
    return (
        "<h1>s3gate dev issuer: sign in</h1>"
        "<p><strong>Development only</strong>: pick any user and groups. A real issuer "
        "authenticates people here.</p>"
        f'<form method="post" action="{PATH}/authorize">{hidden}'
        '<p><label>User <input name="sub" id="sub" required value="security-1"></label></p>'
        '<p><label>Groups (comma-separated) <input name="groups" id="groups" '
        'value="security"></label></p>'
        f"<p>for client <code>{html.escape(params.get('client_id', ''))}</code></p>"
        '<p><button type="submit" id="signin">Sign in</button></p></form>'
    )


def _page(body: str, status: int) -> HTMLResponse:
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>s3gate dev issuer</title></head><body>{body}</body></html>"
    )
    return HTMLResponse(doc, status, headers=_HEADERS)
