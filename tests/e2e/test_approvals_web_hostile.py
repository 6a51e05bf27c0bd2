"""The approvals web page attacked over real HTTP (raw requests, cookies and
headers by hand), against `s3gate dev` in front of moto. Every refused
attempt also checks that nothing was released: the whole quarantine is still
in the store and the target key is not.

Covered: POSTs without the CSRF token, with a wrong one or another session's,
with a foreign, `null` or missing Origin; session cookies sealed under another
key, tampered, or swapped for the login cookie; the OAuth callback with a wrong
state, a replayed code, an injected code of another sign-in, no login cookie;
the dev issuer's token endpoint without or with a wrong PKCE verifier; a
non-approver and the writer itself signed in; secrets in URLs, logs and the
audit trail; the security headers of every answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import signal
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from s3gate.approvers.web.cookies import CookieSealer, WebSession
from tests.e2e.devgateway import DevGateway, start_dev_gateway
from tests.e2e.webclient import AUTHORIZE, TOKEN, WebClient
from tests.e2e.webfixtures import (
    AGENT,
    CANARY,
    audit_history,
    ensure_bucket,
    held_put,
    new_key,
    policy_copy,
    quarantine,
    still_held,
    stored,
)

APPROVER = "sec-web-1"
CLIENT_ID = "s3gate-approvals"


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevGateway]:
    folder = tmp_path_factory.mktemp("approvals-web-hostile")
    ensure_bucket(direct)
    gateway = start_dev_gateway(folder, moto_endpoint, policy_copy(folder))
    yield gateway
    gateway.stop()


@pytest.fixture
def held(gw: DevGateway, direct: Any) -> Iterator[tuple[str, str]]:
    key = new_key()
    hold_id = held_put(gw, key)
    assert still_held(direct, hold_id, key)
    yield hold_id, key
    # A hold a test left pending: removed through the store, so that other
    # gateways sharing the bucket (other keys) do not meet it.
    for name in quarantine(direct, hold_id):
        direct.delete_object(Bucket="traces", Key=f".s3gate/approvals/{hold_id}/{name}")
    direct.delete_object(Bucket="traces", Key=key)


def approver(gw: DevGateway, sub: str = APPROVER, groups: str = "security") -> WebClient:
    web = WebClient(gw)
    web.sign_in(sub, groups)
    return web


def detail_form(web: WebClient, hold_id: str) -> dict[str, str]:
    """The approve form's hidden fields as the detail page serves them."""
    page = web.page(f"/holds/{hold_id}")
    assert page.status == 200, page.data
    html = page.data.decode()
    approve = html[html.index('/approve"') :]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', approve))
    assert set(fields) == {"csrf", "sha256", "bundle_hash"}
    return fields


def refused(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, (resp.status, resp.data[:500])
    assert f"<code>{code}</code>" in resp.data.decode(), resp.data[:500]


# ---- CSRF and Origin ------------------------------------------------------------


def test_approve_without_the_right_csrf_token_or_origin_is_refused(
    gw: DevGateway, direct: Any, held: tuple[str, str]
) -> None:
    hold_id, key = held
    web = approver(gw)
    fields = detail_form(web, hold_id)
    good = {**fields, "reason": "looks fine"}
    other = approver(gw, "sec-web-2")
    others_token = other.csrf()
    assert others_token != fields["csrf"]
    attempts: list[tuple[str, dict[str, str], str | None]] = [
        ("no csrf field", {k: v for k, v in good.items() if k != "csrf"}, "own"),
        ("empty csrf", {**good, "csrf": ""}, "own"),
        ("wrong csrf", {**good, "csrf": secrets.token_urlsafe(32)}, "own"),
        ("csrf one character off", {**good, "csrf": fields["csrf"][:-1] + "A"}, "own"),
        ("another session's csrf", {**good, "csrf": others_token}, "own"),
        ("foreign Origin", good, "http://evil.example"),
        ("same host, other port", good, "http://127.0.0.1:1"),
        ("Origin null", good, "null"),
        ("no Origin", good, None),
    ]
    for why, form, origin in attempts:
        resp = web.request(
            "POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form=form, origin=origin
        )
        refused(resp, 403, "RequestForgery")
        assert still_held(direct, hold_id, key), why
    # The same for deny: nothing destroyed without the token.
    deny = {"csrf": "x" * 43, "reason": "no"}
    resp = web.request("POST", f"/_s3gate/approvals/holds/{hold_id}/deny", form=deny)
    refused(resp, 403, "RequestForgery")
    # A form that is not a form, or too large, is refused too.
    resp = web.request(
        "POST",
        f"/_s3gate/approvals/holds/{hold_id}/approve",
        body=json.dumps(good).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400
    big = {**good, "reason": "x" * 20000}
    assert (
        web.request("POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form=big).status == 400
    )
    assert still_held(direct, hold_id, key)
    # Each refusal is a line in the gateway's log for the operator.
    refusals = [line for line in gw.log().splitlines() if "approvals web: refused POST" in line]
    assert sum(f"/holds/{hold_id}/" in line for line in refusals) >= len(attempts) + 1
    # The positive control: the same session with its own token and Origin approves.
    done = web.request("POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form=good)
    assert done.status == 200 and "released into its key" in done.data.decode()
    assert stored(direct, key) is not None


# ---- cookies ----------------------------------------------------------------------


def forged_session(kid: str, key: bytes, name: str = "s3gate-approvals") -> str:
    session = WebSession(
        subject="mallory",
        issuer="dev",
        groups=("security",),
        roles=("break-glass",),
        claims={},
        csrf="c" * 43,
        sid="0123456789abcdef",
        expires=time.time() + 600,
    )
    return CookieSealer({kid: key}, kid).seal(name, session)


def test_forged_or_tampered_cookies_are_signed_out(
    gw: DevGateway, direct: Any, held: tuple[str, str]
) -> None:
    hold_id, key = held
    web = approver(gw)
    real = web.session_cookie()
    assert real is not None
    kid, _, body = real.partition(".")
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    login_cookie = WebClient(gw)
    login_cookie.page("/login")
    sealed_login = next(v for k, v in login_cookie.cookies.items() if k.endswith("-login"))
    cookies = {
        "sealed under another key, same key id": forged_session(kid, secrets.token_bytes(32)),
        "sealed under an unknown key id": forged_session("nope", secrets.token_bytes(32)),
        "one character changed": f"{kid}.{flipped}",
        "truncated": real[:-4],
        "the login cookie as a session": sealed_login,
        "garbage": "x" * 100,
    }
    for why, value in cookies.items():
        forged = WebClient(gw, cookies={"s3gate-approvals": value})
        page = forged.page()
        assert page.status == 401 and 'id="signin"' in page.data.decode(), why
        assert "Pending approvals" not in page.data.decode()
        assert forged.page(f"/holds/{hold_id}").status == 401, why
        form = {"csrf": "c" * 43, "reason": "forged", "sha256": "0", "bundle_hash": "0"}
        resp = forged.request("POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form=form)
        refused(resp, 403, "RequestForgery")
        assert still_held(direct, hold_id, key), why
    # Signing out clears the cookie; the page then asks to sign in again.
    out = web.request("POST", "/_s3gate/approvals/logout", form={"csrf": web.csrf()})
    assert out.status == 200 and web.session_cookie() is None
    assert web.page().status == 401


# ---- the OAuth callback and the token endpoint -----------------------------------------


def begin(gw: DevGateway) -> tuple[WebClient, str]:
    """A sign-in under way: the login cookie set, the issuer's URL returned."""
    web = WebClient(gw)
    resp = web.page("/login")
    assert resp.status == 302
    return web, resp.headers["location"]


def code_of(callback_url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(callback_url).query))


def assert_not_signed_in(web: WebClient, resp: Any) -> None:
    assert resp.status == 403, (resp.status, resp.data[:300])  # SignInFailed
    assert 'id="error"' in resp.data.decode() and web.session_cookie() is None
    assert web.page().status == 401


def test_callback_with_a_wrong_state_a_replayed_or_injected_code_is_refused(
    gw: DevGateway,
) -> None:
    callback = "/_s3gate/approvals/callback"
    # A wrong state (a forged callback): refused, and the login is spent.
    web, url = begin(gw)
    issued = web.authorize(url, APPROVER, "security")
    got = code_of(issued.headers["location"])
    resp = web.request("GET", f"{callback}?{urlencode({**got, 'state': 'x' * 43})}")
    assert_not_signed_in(web, resp)
    # No state, no code, an issuer error, no login cookie at all.
    for query in (
        {"code": got["code"]},
        {"state": got["state"]},
        {"error": "access_denied", "state": got["state"]},
    ):
        web2, url2 = begin(gw)
        params = dict(parse_qsl(urlsplit(url2).query))
        query = {k: (params["state"] if k == "state" else v) for k, v in query.items()}
        assert_not_signed_in(web2, web2.request("GET", f"{callback}?{urlencode(query)}"))
    stranger = WebClient(gw)
    assert_not_signed_in(stranger, stranger.request("GET", issued.headers["location"]))

    # A replayed code: the whole callback again, login cookie and all.
    web, url = begin(gw)
    issued = web.authorize(url, APPROVER, "security")
    login_cookies = dict(web.cookies)
    first = web.request("GET", issued.headers["location"])
    assert first.status == 200 and web.session_cookie() is not None
    replay = WebClient(gw, cookies=login_cookies)
    assert_not_signed_in(replay, replay.request("GET", issued.headers["location"]))

    # An injected code: the attacker's own code (for the attacker's login,
    # so the attacker's PKCE challenge) in the victim's callback with the
    # victim's state. The token exchange with the victim's verifier fails.
    attacker, attacker_url = begin(gw)
    attacker_code = code_of(
        attacker.authorize(attacker_url, "mallory", "security").headers["location"]
    )
    victim, victim_url = begin(gw)
    victim_state = dict(parse_qsl(urlsplit(victim_url).query))["state"]
    injected = {"code": attacker_code["code"], "state": victim_state}
    assert_not_signed_in(victim, victim.request("GET", f"{callback}?{urlencode(injected)}"))


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_code(gw: DevGateway, challenge: str, **changes: str) -> Any:
    """The dev issuer's authorize form, submitted by hand."""
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": gw.page + "/callback",
        "scope": "openid",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "sub": APPROVER,
        "groups": "security",
        **changes,
    }
    return WebClient(gw).request(
        "POST", AUTHORIZE, form={k: v for k, v in form.items() if v}, origin=None
    )


def token(
    gw: DevGateway, code: str, verifier: str | None, **changes: str
) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT_ID,
        "redirect_uri": gw.page + "/callback",
        **({"code_verifier": verifier} if verifier is not None else {}),
        **changes,
    }
    resp = WebClient(gw).request("POST", TOKEN, form=form, origin=None)
    return resp.status, json.loads(resp.data)


def test_the_dev_issuer_insists_on_pkce_and_one_time_codes(gw: DevGateway) -> None:
    verifier, challenge = pkce_pair()
    # Authorization requests the dev issuer refuses (no redirect with a code).
    for why, changes in (
        ("no challenge", {"code_challenge": ""}),
        ("plain method", {"code_challenge_method": "plain"}),
        ("foreign redirect", {"redirect_uri": "http://evil.example/_s3gate/approvals/callback"}),
        ("unknown client", {"client_id": "other"}),
        ("implicit flow", {"response_type": "token"}),
        ("no state", {"state": ""}),
    ):
        resp = issue_code(gw, challenge, **changes)
        assert resp.status == 400 and "location" not in resp.headers, why

    def fresh() -> str:
        resp = issue_code(gw, challenge)
        assert resp.status == 302
        return code_of(resp.headers["location"])["code"]

    # No verifier; then the right one for the same code: spent by the first try.
    code = fresh()
    assert token(gw, code, None) == (
        400,
        {"error": "invalid_grant", "error_description": "PKCE verification failed"},
    )
    assert token(gw, code, verifier)[0] == 400
    # A wrong verifier, another client, another redirect URI.
    assert token(gw, fresh(), pkce_pair()[0])[0] == 400
    assert token(gw, fresh(), verifier, client_id="other")[0] == 400
    assert token(gw, fresh(), verifier, redirect_uri="http://evil.example/cb")[0] == 400
    # The positive control, then the same code replayed.
    code = fresh()
    status, body = token(gw, code, verifier)
    assert status == 200 and body["id_token"].count(".") == 2
    assert token(gw, code, verifier)[0] == 400


# ---- who may decide ---------------------------------------------------------------------


def test_a_non_approver_and_the_writer_cannot_approve(
    gw: DevGateway, direct: Any, held: tuple[str, str]
) -> None:
    hold_id, key = held
    analyst = approver(gw, "ana-1", "analysts")
    assert hold_id not in analyst.page().data.decode()
    shown = analyst.page(f"/holds/{hold_id}")
    refused(shown, 404, "NoSuchHold")  # a non-approver learns nothing, not even existence
    form = {"csrf": analyst.csrf(), "reason": "me too", "sha256": "0" * 64, "bundle_hash": "0"}
    for action in ("approve", "deny"):
        resp = analyst.request("POST", f"/_s3gate/approvals/holds/{hold_id}/{action}", form=form)
        refused(resp, 404, "NoSuchHold")
        assert still_held(direct, hold_id, key)
    # The writer itself (same subject, same issuer), even in the approvers' group.
    writer = approver(gw, AGENT, "security,trace-writers")
    fields = detail_form(writer, hold_id)
    resp = writer.request(
        "POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form={**fields, "reason": "mine"}
    )
    refused(resp, 403, "ApprovalNotAllowed")
    assert still_held(direct, hold_id, key)
    # A real approver then denies it: destroyed.
    web = approver(gw)
    resp = web.request(
        "POST",
        f"/_s3gate/approvals/holds/{hold_id}/deny",
        form={"csrf": web.csrf(), "reason": "no"},
    )
    assert resp.status == 200 and "destroyed" in resp.data.decode()
    assert stored(direct, key) is None


# ---- secrets and headers ------------------------------------------------------------------


SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    # Not no-referrer: under it browsers send `Origin: null` on form POSTs, and
    # the page could not take a single approval (test_approvals_browser.py).
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}
# The callback's answers: their URL carries the code and state.
CALLBACK_HEADERS = {**SECURITY_HEADERS, "referrer-policy": "no-referrer"}


def test_no_secrets_in_urls_logs_or_audit_and_every_answer_has_the_headers(
    gw: DevGateway, direct: Any, moto_endpoint: str, held: tuple[str, str]
) -> None:
    hold_id, key = held
    web = WebClient(gw)
    signed = web.sign_in(APPROVER, "security")
    session = web.session_cookie()
    assert session is not None
    answers = {
        "sign-in page": WebClient(gw).page(),
        "list": web.page(),
        "detail": web.page(f"/holds/{hold_id}"),
        "unknown hold": web.page("/holds/" + "0" * 24),
        "request form": web.page("/request"),
        "login redirect": WebClient(gw).page("/login"),
        "failed callback": WebClient(gw).page("/callback?code=x&state=y"),
        "forged POST": web.request("POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form={}),
    }
    fields = detail_form(web, hold_id)
    csrf = fields["csrf"]
    answers["approve"] = web.request(
        "POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form={**fields, "reason": "ok"}
    )
    assert answers["approve"].status == 200 and stored(direct, key) is not None
    answers["callback"] = WebClient(gw).request("GET", signed.callback_url)  # replayed
    for name, value in CALLBACK_HEADERS.items():
        assert signed.callback_headers.get(name) == value, ("signed-in callback", name)
    for what, resp in answers.items():
        expected = CALLBACK_HEADERS if what.endswith("callback") else SECURITY_HEADERS
        for name, value in expected.items():
            assert resp.headers.get(name) == value, (what, name, resp.headers.get(name))
    # The cookies: HttpOnly, SameSite (Strict for the session), Path=/.
    session_line = next(c for c in web.set_cookies if c.startswith("s3gate-approvals="))
    login_line = next(c for c in web.set_cookies if c.startswith("s3gate-approvals-login="))
    assert re.search(r"(?i)httponly", session_line) and re.search(
        r"(?i)samesite=strict", session_line
    )
    assert re.search(r"(?i)httponly", login_line) and re.search(r"(?i)samesite=lax", login_line)
    assert "Path=/" in session_line

    code = code_of(signed.callback_url)
    secrets_seen = {
        "session cookie": session,
        "login cookie": signed.login_cookie,
        "csrf token": csrf,
        "authorization code": code["code"],
        "state": code["state"],
    }
    # URLs: the page never puts its cookie or token in one (the code and
    # state are in the callback URL by the protocol's design, and only there).
    for url in web.urls:
        for what in ("session cookie", "login cookie", "csrf token"):
            assert secrets_seen[what] not in url, (what, url)
        if not url.startswith(gw.page + "/callback"):
            assert code["code"] not in url and code["state"] not in url, url
    # No page links to a URL that carries a secret either.
    for resp in answers.values():
        for href in re.findall(r'(?:href|action)="([^"]*)"', resp.data.decode()):
            assert "csrf" not in href and "code=" not in href and "token" not in href.lower(), href
    # The gateway's log and the audit trail keep none of them.
    history = audit_history(moto_endpoint, gw, hold_id, 5)
    assert [e["type"] for e in history][:2] == ["approval.held", "approval.viewed"]
    approved = next(e for e in history if e["type"] == "approval.approved")
    assert approved["principal"]["subject"] == APPROVER
    assert approved["principal"]["access_key_id"].startswith("web-")
    dumped = json.dumps(history)
    logged = gw.log()
    for what, value in secrets_seen.items():
        assert value not in logged, f"{what} in the gateway's log"
        assert value not in dumped, f"{what} in the audit trail"
    assert CANARY not in dumped


# ---- what an approval is reported as -------------------------------------------------------

REFUSE_LATER = """
@id("e2e.web-no-longer")
forbid (principal in Role::"trace-writer", action in Action::"write", resource)
when { resource.bucket == "traces" && resource.key like "alpha/refused-*" };
"""


def test_an_approval_whose_release_the_policy_refuses_is_not_reported_released(
    gw: DevGateway, direct: Any
) -> None:
    key = f"alpha/refused-{secrets.token_hex(5)}.jsonl"
    hold_id = held_put(gw, key)
    web = approver(gw)
    before = detail_form(web, hold_id)["bundle_hash"]
    # The policy changes while the hold waits: the writer may no longer write there.
    (gw.data_dir.parent / "policies" / "access" / "e2e-web-later.cedar").write_text(REFUSE_LATER)
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while detail_form(web, hold_id)["bundle_hash"] == before:
        assert time.monotonic() < deadline, "the new bundle was not loaded"
        time.sleep(0.2)
    fields = detail_form(web, hold_id)  # reviewed anew under the bundle in force
    resp = web.request(
        "POST", f"/_s3gate/approvals/holds/{hold_id}/approve", form={**fields, "reason": "ok"}
    )
    refused(resp, 409, "HoldChanged")
    text = resp.data.decode()
    assert "hold ended denied" in text and "no longer allows the write" in text
    assert "released" not in text.replace("not released", "")
    assert stored(direct, key) is None and quarantine(direct, hold_id) == []
