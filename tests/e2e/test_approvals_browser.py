"""The approvals web page in a real headless browser (Debian's chromium and
chromium-driver, driven by selenium), against `s3gate dev` in front of moto.

An agent (a trace-writer session from the gateway's STS, boto3) writes a
trace the gateway holds. The browser signs in at the dev issuer
(authorization code + PKCE, the page's own redirects), sees the pending list,
opens the hold's preview — the approver's own read view, so the canary the
read view masks is nowhere in the page — and approves with a reason; the
object is then in its key, write-masked, and the audit trail shows who
approved. Another hold is denied from the page; a break-glass read grant is
requested from the page by an SRE, approved and revoked by security there.

Screenshots of the list, the preview and the answer after approving are
decoded and checked: the window's size, many colours, the header's blue, and
the approve (green) and deny (red) buttons' colours inside their elements'
boxes; the DOM has the hold id, the key, the rule ids and the buttons.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.devgateway import DevGateway, start_dev_gateway
from tests.e2e.sts import ACCOUNT, assume, s3_client
from tests.e2e.webfixtures import (
    BUCKET,
    CANARY,
    EMAIL,
    audit_history,
    ensure_bucket,
    held_put,
    new_key,
    policy_copy,
    quarantine,
    still_held,
    stored,
)

WIDTH, HEIGHT = 1280, 1000
APPROVER = "sec-browser-1"
RULE = "masking:write-strict:internal_projects"
HEADER_BLUE = (0x1F, 0x3A, 0x5F)  # style.css: header
APPROVE_GREEN = (0x1A, 0x7F, 0x37)  # button.approve
DENY_RED = (0xB4, 0x23, 0x18)  # button.deny
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevGateway]:
    folder = tmp_path_factory.mktemp("approvals-browser")
    ensure_bucket(direct)
    gateway = start_dev_gateway(folder, moto_endpoint, policy_copy(folder))
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile: Path = tmp_path_factory.mktemp("chromium-approvals")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # runs as root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--force-device-scale-factor=1",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots are kept (for a human looking at a failure)."""
    return tmp_path_factory.mktemp("approvals-screenshots")


# ---- the browser's moves ------------------------------------------------------------


def wait_for(browser: WebDriver, css: str) -> WebElement:
    found: WebElement = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )
    return found


def by(browser: WebDriver, css: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, css)


def sign_in(browser: WebDriver, gw: DevGateway, sub: str, groups: str) -> None:
    """From the page's sign-in link through the dev issuer's form and back."""
    browser.delete_all_cookies()
    browser.get(gw.page)
    by(browser, "a#signin").click()
    # The dev issuer's form: a developer types any user and groups.
    wait_for(browser, "input#sub")
    assert browser.current_url.startswith(gw.endpoint + "/_s3gate/dev-oidc/authorize?")
    assert "code_challenge_method=S256" in browser.current_url
    for field, value in (("sub", sub), ("groups", groups)):
        box = by(browser, f"input#{field}")
        box.clear()
        box.send_keys(value)
    by(browser, "button#signin").click()
    # The callback's own page moves on by itself (meta refresh) to the list.
    wait_for(browser, "#whoami")
    WebDriverWait(browser, 20).until(lambda b: b.current_url.rstrip("/") == gw.page)
    assert sub in by(browser, "#whoami").text


def screenshot(browser: WebDriver, shots: Path, name: str) -> Image.Image:
    """The window as the browser drew it, decoded; the generic checks."""
    data = browser.get_screenshot_as_png()
    (shots / f"{name}.png").write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.load()
    # The decoded picture is the whole viewport (the device scale factor is 1).
    viewport = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert image.size == tuple(viewport) and image.size[0] == WIDTH, (name, image.size, viewport)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, f"{name}: a blank screenshot"
    assert has_colour(image, (0, 0, WIDTH, 40), HEADER_BLUE), f"{name}: no page header drawn"
    return image


def has_colour(
    image: Image.Image,
    box: tuple[int, int, int, int],
    rgb: tuple[int, int, int],
    share: float = 0.2,
) -> bool:
    """At least `share` of the pixels in `box` are (nearly) `rgb`."""
    raw = image.crop(box).tobytes()  # RGB, 3 bytes a pixel
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    near = sum(1 for p in pixels if all(abs(a - b) <= 12 for a, b in zip(p, rgb, strict=True)))
    return bool(pixels) and near >= share * len(pixels)


def box_of(element: WebElement) -> tuple[int, int, int, int]:
    r = element.rect
    return (int(r["x"]), int(r["y"]), int(r["x"] + r["width"]), int(r["y"] + r["height"]))


def in_view(image: Image.Image, element: WebElement) -> tuple[int, int, int, int]:
    assert element.is_displayed()
    box = box_of(element)
    assert 0 <= box[0] < box[2] <= image.size[0] and 0 <= box[1] < box[3] <= image.size[1], box
    return box


def absent_from_page(browser: WebDriver, *values: str) -> None:
    source = browser.page_source
    for value in values:
        assert value not in source, f"{value!r} is in the page"


# ---- the tests ----------------------------------------------------------------------


def test_sign_in_list_preview_approve_in_the_browser(
    gw: DevGateway, browser: WebDriver, direct: Any, moto_endpoint: str, shots: Path
) -> None:
    key = new_key()
    hold_id = held_put(gw, key)
    assert still_held(direct, hold_id, key)
    sign_in(browser, gw, APPROVER, "security")

    # The pending list: the hold's row with its key and why it is held.
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#pending tr.hold")
        if hold_id[:12] in r.text
    )
    assert (
        f"s3://{BUCKET}/{key}" in row.text
        and RULE in row.text
        and "internal_projects=1" in row.text
    )
    image = screenshot(browser, shots, "1-list")
    in_view(image, row)
    absent_from_page(browser, CANARY, EMAIL, "Nightjar")

    # The preview: the approver's own read view (analyst-view) of the write-masked bytes.
    row.find_element(By.CSS_SELECTOR, "a.open").click()
    wait_for(browser, "#preview")
    assert browser.current_url == f"{gw.page}/holds/{hold_id}"
    assert hold_id in by(browser, "h1").text
    assert by(browser, "#target").text == f"s3://{BUCKET}/{key}"
    assert (
        RULE in by(browser, "#facts").text
        and "internal_projects=1" in by(browser, "#detectors").text
    )
    assert "analyst-view" in by(browser, "#preview-note").text
    preview = by(browser, "#preview").text
    assert "all good" in preview and "[REDACTED:INTERNAL_PROJECTS]" in preview
    absent_from_page(browser, CANARY, EMAIL, "Nightjar")
    image = screenshot(browser, shots, "2-preview")
    in_view(image, by(browser, "#preview"))
    approve, deny = by(browser, "button#approve"), by(browser, "button#deny")
    assert approve.text == "Approve" and deny.text == "Deny"
    assert has_colour(image, in_view(image, approve), APPROVE_GREEN, 0.5), "approve not drawn"
    assert has_colour(image, in_view(image, deny), DENY_RED, 0.5), "deny not drawn"

    # Approve with a reason (the browser refuses an empty one: `required`).
    approve.click()
    reason = by(browser, "input#approve-reason")
    assert reason.get_attribute("validationMessage"), "an empty reason was not stopped"
    assert browser.current_url == f"{gw.page}/holds/{hold_id}"  # nothing sent
    reason.send_keys("reviewed in the browser: launch is public")
    approve.click()
    message = wait_for(browser, "#message")
    assert message.text == "Approved: released into its key."
    image = screenshot(browser, shots, "3-approved")
    in_view(image, message)
    assert by(browser, "#hold-link").text == hold_id

    # The object is in its key, write-masked; the quarantine is gone.
    body = stored(direct, key)
    assert body is not None and b"all good" in body and CANARY.encode() in body
    assert EMAIL.encode() not in body and b"Nightjar" not in body
    head = direct.head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"]["s3gate-approval"] == hold_id
    assert quarantine(direct, hold_id) == []
    # The audit trail names the approver, the reason and the release.
    events = audit_history(moto_endpoint, gw, hold_id, 5)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "approval.held",
        "approval.viewed",
        "approval.approved",
        "approval.released",
        "approval.destroyed",
    ]
    approved = events[2]
    assert approved["principal"]["subject"] == APPROVER
    assert approved["details"]["reason"] == "reviewed in the browser: launch is public"


def test_deny_from_the_page_destroys_the_hold(
    gw: DevGateway, browser: WebDriver, direct: Any, moto_endpoint: str, shots: Path
) -> None:
    key = new_key()
    hold_id = held_put(gw, key)
    sign_in(browser, gw, APPROVER, "security")
    browser.get(f"{gw.page}/holds/{hold_id}")
    by(browser, "input#deny-reason").send_keys("code name must not be stored")
    by(browser, "button#deny").click()
    message = wait_for(browser, "#message")
    assert message.text == "Denied: the quarantined bytes are destroyed."
    screenshot(browser, shots, "4-denied")
    assert stored(direct, key) is None and quarantine(direct, hold_id) == []
    browser.get(gw.page)
    assert hold_id[:12] not in by(browser, "main").text
    events = audit_history(moto_endpoint, gw, hold_id, 4)
    assert [e["type"] for e in events] == [
        "approval.held",
        "approval.viewed",
        "approval.denied",
        "approval.destroyed",
    ]
    assert events[2]["details"]["reason"] == "code name must not be stored"


def test_break_glass_request_approve_and_revoke_from_the_page(
    gw: DevGateway, browser: WebDriver, direct: Any, shots: Path
) -> None:
    # A released (write-masked) object the SRE will need raw.
    key = new_key()
    direct.put_object(Bucket=BUCKET, Key=key, Body=f'{{"customer_id":"{CANARY}"}}\n'.encode())
    prefix = key.rsplit("/", 1)[0] + "/" + key.rsplit("/", 1)[1][:8]

    def raw_read() -> bytes:
        token = gw.token("sre-1", "sre")
        client = s3_client(gw.endpoint, assume(gw.endpoint, BREAK_GLASS, token))
        body: bytes = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return body

    with pytest.raises(ClientError) as caught:
        raw_read()
    assert caught.value.response["Error"]["Code"] == "AccessDenied"

    # The SRE asks from the page (roles offered: those whose trust admits them).
    sign_in(browser, gw, "sre-1", "sre")
    by(browser, "a[href='/_s3gate/approvals/request']").click()
    wait_for(browser, "select#role")
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "select#role option")] == [
        "break-glass"
    ]
    for field, value in (("bucket", BUCKET), ("prefix", prefix), ("reason", "INC-42: root cause")):
        by(browser, f"input#{field}").send_keys(value)
    duration = by(browser, "input#duration")
    duration.clear()
    duration.send_keys("30m")
    by(browser, "button#request").click()
    message = wait_for(browser, "#message")
    assert message.text.startswith("Requested: waiting for security (1).")
    grant_id = by(browser, "#hold-link").text
    screenshot(browser, shots, "5-requested")

    # Signing out from the header's button (a POST with the CSRF token).
    by(browser, "button#signout").click()
    assert wait_for(browser, "#error").text == "Signed out."
    assert not any(c["name"] == "s3gate-approvals" for c in browser.get_cookies())
    browser.get(gw.page)
    assert by(browser, "a#signin").is_displayed()

    # Security sees it in the list, approves it; the raw read then works.
    sign_in(browser, gw, APPROVER, "security")
    assert grant_id[:12] in by(browser, "#pending").text
    assert f"read grant: s3://{BUCKET}/{prefix}*" in by(browser, "#pending").text
    browser.get(f"{gw.page}/holds/{grant_id}")
    assert "INC-42: root cause" in by(browser, "#facts").text
    by(browser, "input#approve-reason").send_keys("incident open")
    by(browser, "button#approve").click()
    assert wait_for(browser, "#message").text == "Approved: the read grant is in force."
    assert CANARY.encode() in raw_read()

    # Revoked from the page: the next read is refused.
    browser.get(f"{gw.page}/holds/{grant_id}")
    assert by(browser, "#status").text == "granted"
    by(browser, "input#revoke-reason").send_keys("incident closed")
    by(browser, "button#revoke").click()
    assert wait_for(browser, "#message").text == "Revoked: the grant reads nothing more."
    with pytest.raises(ClientError) as caught:
        raw_read()
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    direct.delete_object(Bucket=BUCKET, Key=key)
