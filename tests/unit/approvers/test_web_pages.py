"""The web pages over a real ApprovalService and local store, in-process
(httpx's ASGI transport). Hostile cases first: every POST without the
page's Origin, a valid session or its CSRF token is refused with 403 and
changes nothing; non-approvers see nothing; self-approval is refused; what a
writer or requester typed is escaped."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from s3gate import errors
from s3gate.accesslog import AccessLog
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.settings import ApprovalSettings
from s3gate.approvers.web.cookies import CookieSealer, WebSession
from s3gate.approvers.web.pages import WebPages
from s3gate.approvers.web.signin import SignIn
from s3gate.identity import devissuer
from s3gate.identity.principal import Principal
from s3gate.identity.settings import IdentitySettings
from s3gate.policy.model import RequestContext
from s3gate.transform.summary import MaskSummary
from tests.unit.approvals.test_service import Clock, Store, exists, replica

ORIGIN = "http://gw.test"
SETTINGS = ApprovalSettings(
    web_issuer="dev",
    web_client_id="s3gate-approvals",
    web_redirect_url=f"{ORIGIN}/_s3gate/approvals/callback",
    web_authorization_endpoint="http://idp.test/authorize",
    web_token_endpoint="http://idp.test/token",
)
SEALER = CookieSealer({"k": b"\x05" * 32}, "k")
COOKIE = "s3gate-approvals"  # http: no __Host- prefix, no Secure
TRACE = b'{"msg":"Project Nightjar ships friday","user":"alice@example.com"}\n'
HOSTILE_KEY = 'alpha/<img src=x onerror="alert(1)">.jsonl'


def web_session(subject: str, groups: tuple[str, ...], expires: float | None = None) -> WebSession:
    return WebSession(
        subject=subject,
        issuer="dev",
        groups=groups,
        roles=(),
        claims={},
        csrf=f"csrf-of-{subject}-" + "x" * 30,
        sid="00112233",
        # Sessions made at import: valid for a day, so a long suite run (the
        # whole suite takes over ten minutes) does not expire them.
        expires=expires if expires is not None else time.time() + 86400,
    )


SEC = web_session("sec-1", ("security",))
NOBODY = web_session("analyst-1", ("analysts",))
# A writer the test policies let write at release time (test_service.EXTRA).
WRITER = Principal("bot", "AKIAWRITER", "static", ("writers",))
# A writer who signs in to the page too: same subject and issuer.
AGENT = Principal(
    "agent-1", "ASIAWRITER", "session", ("trace-writers",), issuer="dev",
    role="trace-writer", claims=MappingProxyType({}),
)  # fmt: skip


def cookie(session: WebSession) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={SEALER.seal(COOKIE, session)}"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    upstream = Store(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket("traces")
    yield upstream
    await upstream.close()


@pytest.fixture
def service(tmp_path: Path, store: Store) -> ApprovalService:
    # The service's own clock: holds are created "now", so the pages (which
    # read the real clock for cookies) see them pending.
    clock = Clock()
    clock.now = time.time()
    return replica(tmp_path, store, clock, "r1")


@pytest.fixture
async def client(tmp_path: Path, service: ApprovalService) -> AsyncIterator[httpx.AsyncClient]:
    issuer = devissuer.load(tmp_path / "idp", "http://idp.test/_s3gate/dev-oidc")
    signin = SignIn(SETTINGS, IdentitySettings(issuers=(issuer.issuer_settings(),)))
    pages = WebPages(
        SETTINGS, service, signin, SEALER, lambda: None, None, access_log=AccessLog(True)
    )
    app = Starlette(routes=pages.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
        yield http


async def held(
    service: ApprovalService,
    key: str = "alpha/run.jsonl",
    writer: Principal = WRITER,
    summary: MaskSummary | None = None,
) -> str:
    with service.masking.spool() as spool:

        async def body() -> AsyncIterator[bytes]:
            yield TRACE

        await spool.fill(body())
        with pytest.raises(errors.HeldForApproval) as caught:
            await service.hold(
                bundle=service.policies.current(),
                principal=writer,
                bucket="traces",
                key=key,
                spool=spool,
                summary=summary,
                held_rules=("write-strict:internal_projects",),
                approvals=(),
                policy_ids=(),
                metadata={"content-type": "application/x-ndjson"},
                context=RequestContext(operation="PutObject"),
                request_id="R1",
            )
    return caught.value.hold_id


async def status_of(service: ApprovalService, hold_id: str) -> str:
    bucket = await service.store.locate(hold_id)
    return (await service.store.state(bucket, hold_id))[0].status


def form(session: WebSession, **fields: str) -> dict[str, str]:
    return {"csrf": session.csrf, **fields}


FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("headers", "fields", "case"),
    [
        ({"origin": ORIGIN}, {"reason": "ok"}, "no CSRF token"),
        ({"origin": ORIGIN}, {"reason": "ok", "csrf": ""}, "empty CSRF token"),
        ({"origin": ORIGIN}, {"reason": "ok", "csrf": SEC.csrf + "x"}, "wrong CSRF token"),
        ({"origin": ORIGIN}, {"reason": "ok", "csrf": NOBODY.csrf}, "another session's token"),
        ({}, {"reason": "ok", "csrf": SEC.csrf}, "no Origin"),
        ({"origin": "null"}, {"reason": "ok", "csrf": SEC.csrf}, "Origin null"),
        ({"origin": "http://evil.test"}, {"reason": "ok", "csrf": SEC.csrf}, "another Origin"),
        ({"origin": ORIGIN + ":80"}, {"reason": "ok", "csrf": SEC.csrf}, "another port"),
        ({"origin": "https://gw.test"}, {"reason": "ok", "csrf": SEC.csrf}, "another scheme"),
    ],
)
@pytest.mark.parametrize("action", ["approve", "deny"])
async def test_forged_posts_change_nothing(
    client: httpx.AsyncClient,
    service: ApprovalService,
    store: Store,
    headers: dict[str, str],
    fields: dict[str, str],
    case: str,
    action: str,
) -> None:
    hold_id = await held(service)
    shown = await service.show(hold_id, Principal("x", "k", "session", ("security",), "dev"))
    fields = {**fields, "sha256": shown.request.sha256, "bundle_hash": shown.bundle_hash}
    resp = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/{action}",
        data=fields,
        headers={**headers, **cookie(SEC), **FORM},
    )
    assert resp.status_code == 403, case
    assert "RequestForgery" in resp.text
    assert await status_of(service, hold_id) == "pending"
    assert not await exists(store, "alpha/run.jsonl")


def _bad_cookies() -> list[tuple[str, dict[str, str]]]:
    good = SEALER.seal(COOKIE, SEC)
    kid, _, body = good.partition(".")
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    expired = SEALER.seal(COOKIE, web_session("sec-1", ("security",), time.time() - 1))
    other_key = CookieSealer({"k": b"\x06" * 32}, "k").seal(COOKIE, SEC)
    return [
        ("none", {}),
        ("tampered", {"cookie": f"{COOKIE}={kid}.{flipped}"}),
        ("expired", {"cookie": f"{COOKIE}={expired}"}),
        ("another gateway's key", {"cookie": f"{COOKIE}={other_key}"}),
        ("the login cookie's seal", {"cookie": f"{COOKIE}={SEALER.seal('x', SEC)}"}),
    ]


@pytest.mark.parametrize(("case", "headers"), _bad_cookies())
async def test_bad_session_cookie(
    client: httpx.AsyncClient,
    service: ApprovalService,
    store: Store,
    case: str,
    headers: dict[str, str],
) -> None:
    hold_id = await held(service)
    page = await client.get("/_s3gate/approvals", headers=headers)
    assert page.status_code == 401, case
    assert "Sign in" in page.text and hold_id not in page.text
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=headers)
    assert detail.status_code == 401 and "Project" not in detail.text
    resp = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/deny",
        data=form(SEC, reason="no"),
        headers={"origin": ORIGIN, **headers, **FORM},
    )
    assert resp.status_code == 403, case
    assert await status_of(service, hold_id) == "pending"


async def test_non_approver_sees_nothing_and_cannot_decide(
    client: httpx.AsyncClient, service: ApprovalService, store: Store
) -> None:
    hold_id = await held(service)
    page = await client.get("/_s3gate/approvals", headers=cookie(NOBODY))
    assert page.status_code == 200 and hold_id not in page.text and "Nothing waits" in page.text
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=cookie(NOBODY))
    assert detail.status_code == 404 and "NoSuchHold" in detail.text
    assert "alpha/run.jsonl" not in detail.text
    for action in ("approve", "deny"):
        resp = await client.post(
            f"/_s3gate/approvals/holds/{hold_id}/{action}",
            data=form(NOBODY, reason="mine now"),
            headers={"origin": ORIGIN, **cookie(NOBODY), **FORM},
        )
        assert resp.status_code == 404 and "NoSuchHold" in resp.text
    assert await status_of(service, hold_id) == "pending"
    assert not await exists(store, "alpha/run.jsonl")


async def test_self_approval_refused(
    client: httpx.AsyncClient, service: ApprovalService, store: Store
) -> None:
    """The writer signs in to the page (same subject and issuer), even in
    the approver group: its own write is not approved."""
    hold_id = await held(service, writer=AGENT)
    me = web_session("agent-1", ("security",))
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=cookie(me))
    assert detail.status_code == 200
    shown = await service.show(hold_id, Principal("x", "k", "session", ("security",), "dev"))
    resp = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/approve",
        data=form(
            me, reason="trust me", sha256=shown.request.sha256, bundle_hash=shown.bundle_hash
        ),
        headers={"origin": ORIGIN, **cookie(me), **FORM},
    )
    assert resp.status_code == 403 and "ApprovalNotAllowed" in resp.text
    assert await status_of(service, hold_id) == "pending"
    assert not await exists(store, "alpha/run.jsonl")


async def test_approve_requires_reason_and_the_reviewed_bytes(
    client: httpx.AsyncClient, service: ApprovalService, store: Store
) -> None:
    hold_id = await held(service)
    shown = await service.show(hold_id, Principal("x", "k", "session", ("security",), "dev"))
    headers = {"origin": ORIGIN, **cookie(SEC), **FORM}
    url = f"/_s3gate/approvals/holds/{hold_id}/approve"
    no_reason = form(SEC, reason=" ", sha256=shown.request.sha256, bundle_hash=shown.bundle_hash)
    assert (await client.post(url, data=no_reason, headers=headers)).status_code == 403
    other_bytes = form(SEC, reason="ok", sha256="0" * 64, bundle_hash=shown.bundle_hash)
    assert (await client.post(url, data=other_bytes, headers=headers)).status_code == 409
    assert await status_of(service, hold_id) == "pending"
    good = form(SEC, reason="ok", sha256=shown.request.sha256, bundle_hash=shown.bundle_hash)
    resp = await client.post(url, data=good, headers=headers)
    assert resp.status_code == 200 and "released" in resp.text
    assert await exists(store, "alpha/run.jsonl")


async def test_deny_from_the_page(
    client: httpx.AsyncClient, service: ApprovalService, store: Store
) -> None:
    hold_id = await held(service)
    resp = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/deny",
        data=form(SEC, reason="code name"),
        headers={"origin": ORIGIN, **cookie(SEC), **FORM},
    )
    assert resp.status_code == 200 and "destroyed" in resp.text
    with pytest.raises(errors.NoSuchHold):
        await service.store.locate(hold_id)


async def test_key_and_reason_are_escaped(
    client: httpx.AsyncClient, service: ApprovalService
) -> None:
    hold_id = await held(service, HOSTILE_KEY)
    page = await client.get("/_s3gate/approvals", headers=cookie(SEC))
    assert page.status_code == 200 and hold_id[:12] in page.text
    assert "<img" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=cookie(SEC))
    assert detail.status_code == 200 and "<img" not in detail.text
    # A reason with markup comes back as text in the refusal message too.
    resp = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/approve",
        data=form(SEC, reason="<script>alert(1)</script>", sha256="0" * 64, bundle_hash="x"),
        headers={"origin": ORIGIN, **cookie(SEC), **FORM},
    )
    assert "<script>" not in resp.text


async def test_every_page_carries_the_security_headers(
    client: httpx.AsyncClient, service: ApprovalService
) -> None:
    hold_id = await held(service)
    for path, headers in (
        ("/_s3gate/approvals", {}),
        ("/_s3gate/approvals", cookie(SEC)),
        (f"/_s3gate/approvals/holds/{hold_id}", cookie(SEC)),
        ("/_s3gate/approvals/request", cookie(SEC)),
        ("/_s3gate/approvals/holds/nope", cookie(SEC)),
    ):
        resp = await client.get(path, headers=headers)
        csp = resp.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, path
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["cache-control"] == "no-store"
        # same-origin: under no-referrer, browsers send `Origin: null` on POSTs.
        assert resp.headers["referrer-policy"] == "same-origin"
        assert "<script" not in resp.text and " style=" not in resp.text


async def test_sign_in_sets_a_sealed_lax_login_cookie(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_s3gate/approvals/login")
    assert resp.status_code == 302
    location = resp.headers["location"]
    assert location.startswith("http://idp.test/authorize?")
    assert "code_challenge_method=S256" in location
    set_cookie = resp.headers["set-cookie"]
    assert set_cookie.startswith("s3gate-approvals-login=")
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie
    assert "Secure" not in set_cookie  # http dev endpoint


async def test_callback_without_the_login_cookie_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_s3gate/approvals/callback?code=abc&state=def")
    assert resp.status_code == 403 and "could not be completed" in resp.text
    set_cookies = resp.headers.get_list("set-cookie")
    assert not any(c.startswith(f"{COOKIE}=") for c in set_cookies)  # no session


def test_https_page_uses_host_prefixed_secure_cookies(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(
        update={"web_redirect_url": "https://gw.example/_s3gate/approvals/callback"}
    )
    issuer = devissuer.load(tmp_path / "idp", "http://idp.test/_s3gate/dev-oidc")
    signin = SignIn(settings, IdentitySettings(issuers=(issuer.issuer_settings(),)))
    pages = WebPages(settings, None, signin, SEALER, lambda: None, None)  # type: ignore[arg-type]
    assert pages.secure and pages.session_cookie == "__Host-s3gate-approvals"
    assert pages.origin == "https://gw.example"


async def test_the_detail_shows_the_records_record_rules_left_out(
    client: httpx.AsyncClient, service: ApprovalService
) -> None:
    summary = MaskSummary()
    summary.rejected.update({"no-raw-prompts": 2, "schema:<v1>": 1})
    summary.records_rejected = 3
    hold_id = await held(service, summary=summary)
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=cookie(SEC))
    assert detail.status_code == 200
    assert '<td id="rejected">no-raw-prompts=2, schema:&lt;v1&gt;=1 (3 in all)</td>' in detail.text
    plain = await client.get(
        f"/_s3gate/approvals/holds/{await held(service, 'alpha/two.jsonl')}", headers=cookie(SEC)
    )
    assert '<td id="rejected">none</td>' in plain.text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


@pytest.fixture
def access_lines() -> Iterator[list[dict[str, Any]]]:
    logger = logging.getLogger("s3gate.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_every_page_request_has_an_access_log_line(
    client: httpx.AsyncClient, service: ApprovalService, access_lines: list[dict[str, Any]]
) -> None:
    hold_id = await held(service)
    anonymous = await client.get("/_s3gate/approvals")
    detail = await client.get(f"/_s3gate/approvals/holds/{hold_id}", headers=cookie(SEC))
    forged = await client.post(
        f"/_s3gate/approvals/holds/{hold_id}/deny",
        data={"reason": "no", "csrf": NOBODY.csrf},
        headers={"origin": ORIGIN, **cookie(SEC), **FORM},
    )
    assert [r.status_code for r in (anonymous, detail, forged)] == [401, 200, 403]
    got = [
        {k: line.get(k) for k in ("operation", "principal", "access_key_id", "key", "error")}
        | {"status": line["status"]}
        for line in access_lines
    ]
    assert got == [
        {"operation": "ApprovalsWebList", "principal": None, "access_key_id": None,
         "key": None, "error": None, "status": 401},
        {"operation": "ApprovalsWebDetail", "principal": "sec-1", "access_key_id": "web-00112233",
         "key": hold_id, "error": None, "status": 200},
        {"operation": "ApprovalsWebDeny", "principal": "sec-1", "access_key_id": "web-00112233",
         "key": hold_id, "error": "RequestForgery", "status": 403},
    ]  # fmt: skip
    for line, resp in zip(access_lines, (anonymous, detail, forged), strict=True):
        assert line["request_id"] == resp.headers["x-amz-request-id"]
        assert line["method"] in ("GET", "POST") and line["duration_ms"] >= 0
        # Never a cookie, a CSRF token or a form field.
        text = json.dumps(line)
        assert SEC.csrf not in text and NOBODY.csrf not in text and "reason" not in text
