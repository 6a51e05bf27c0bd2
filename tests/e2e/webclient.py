"""The browser's side of the approvals web page over raw HTTP, for hostile
tests: a cookie jar, redirects never followed (each hop is looked at), every
header and form field under the test's control.

`sign_in` walks the authorization code flow as a browser does: the page's
`/login` (302 to the dev issuer, login cookie set), the dev issuer's form
(POST, 302 back to the callback with `code` and `state`), the callback
(session cookie set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

import urllib3

from tests.e2e.devgateway import PAGE, DevGateway

AUTHORIZE = "/_s3gate/dev-oidc/authorize"
TOKEN = "/_s3gate/dev-oidc/token"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_http = urllib3.PoolManager()


@dataclass(frozen=True)
class SignedIn:
    authorize_url: str  # where the page sent the browser
    callback_url: str  # where the issuer sent it back (code and state)
    login_cookie: str  # the sealed login cookie the callback consumed
    callback_headers: dict[str, str]  # the callback's answer (the page that moves on)


@dataclass
class WebClient:
    gw: DevGateway
    cookies: dict[str, str] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)  # every URL requested
    set_cookies: list[str] = field(default_factory=list)  # every Set-Cookie received

    def request(
        self,
        method: str,
        target: str,
        *,
        form: Mapping[str, str] | None = None,
        origin: str | None = "own",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = target if target.startswith("http") else self.gw.endpoint + target
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if origin is not None and method == "POST":
            sent["Origin"] = self.gw.endpoint if origin == "own" else origin
        if form is not None:
            body = urlencode(form).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        self.urls.append(url)
        resp = _http.request(method, url, body=body, headers=sent, redirect=False, retries=False)
        for line in resp.headers.getlist("set-cookie"):
            self.set_cookies.append(line)
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value.strip('"'):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp

    def page(self, path: str = "") -> urllib3.BaseHTTPResponse:
        return self.request("GET", PAGE + path)

    def csrf(self) -> str:
        """The synchronizer token, read from a page as a browser's form has it."""
        found = _CSRF.search(self.page().data.decode())
        assert found is not None, "no form with a csrf token on the page"
        return found.group(1)

    def authorize(self, authorize_url: str, sub: str, groups: str) -> urllib3.BaseHTTPResponse:
        """Submit the dev issuer's sign-in form for that authorization request."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        return self.request(
            "POST", AUTHORIZE, form={**params, "sub": sub, "groups": groups}, origin=None
        )

    def sign_in(self, sub: str, groups: str) -> SignedIn:
        login = self.page("/login")
        assert login.status == 302, login.data
        authorize_url = login.headers["location"]
        login_cookie = next(v for k, v in self.cookies.items() if k.endswith("-login"))
        issued = self.authorize(authorize_url, sub, groups)
        assert issued.status == 302, issued.data
        callback_url = issued.headers["location"]
        done = self.request("GET", callback_url)
        assert done.status == 200, done.data
        assert self.session_cookie() is not None, "signed in without a session cookie"
        headers = {k.lower(): v for k, v in done.headers.items()}
        return SignedIn(authorize_url, callback_url, login_cookie, headers)

    def session_cookie(self) -> str | None:
        return self.cookies.get("s3gate-approvals")
