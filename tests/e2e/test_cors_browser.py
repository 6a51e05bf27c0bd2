"""CORS with a real browser: headless Chromium (Debian's chromium +
chromium-driver, driven by selenium) loads a page from one local origin and
`fetch()`es presigned URLs of the gateway, another origin. The gateway's
config allows that page's origin for one bucket; a page from a third origin is
refused by the browser itself, because the gateway's preflight says no.

The gateway here also uses a lower-case static access key id (as ceph's
s3-tests configures one): AWS allows letters and digits of either case.
"""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from botocore.config import Config
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.e2e.harness import REGION, Gateway, free_port, start_gateway

KEY_ID = "0555b35654ad1656d804"  # lower case, 20 characters
SECRET = "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=="
BUCKET = f"cors-{uuid.uuid4().hex[:12]}"
PAGE = b"<!doctype html><html><head><title>app</title></head><body>app</body></html>"


@dataclass
class Site:
    origin: str
    server: http.server.ThreadingHTTPServer


def _site() -> Site:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Site(f"http://127.0.0.1:{server.server_address[1]}", server)


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[Site, Site]]:
    allowed, other = _site(), _site()
    yield allowed, other
    for site in (allowed, other):
        site.server.shutdown()
        site.server.server_close()


@pytest.fixture(scope="module")
def cors_gateway(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory, sites: tuple[Site, Site]
) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("cors-gateway")
    secret_file = workdir / "web.secret"
    secret_file.write_text(SECRET)
    extra = {
        "static_keys": [
            {
                "access_key_id": KEY_ID,
                "secret_access_key": {"file": str(secret_file)},
                "principal": {"name": "web", "groups": ["admins"]},
            }
        ],
        "upstream": {"create_buckets": [BUCKET]},
        "cors": {
            BUCKET: [
                {
                    "allowed_origins": [sites[0].origin],
                    "allowed_methods": ["GET", "PUT", "HEAD"],
                    "allowed_headers": ["content-type"],
                    "expose_headers": ["ETag", "x-amz-request-id"],
                    "max_age_seconds": 60,
                }
            ]
        },
    }
    gw = start_gateway(workdir, moto_endpoint, {}, extra=extra)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def client(cors_gateway: Gateway) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=cors_gateway.endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name=REGION,
        config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # runs as root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


# Runs in the page: the result of one fetch(), or the error the browser raised.
FETCH = """
const [url, init, done] = arguments;
fetch(url, init).then(
  async (r) => done({status: r.status, text: await r.text(),
                     etag: r.headers.get("ETag"), rid: r.headers.get("x-amz-request-id")}),
  (e) => done({error: String(e)}));
"""


def _fetch(browser: Any, origin: str, url: str, init: dict[str, Any]) -> dict[str, Any]:
    if not browser.current_url.startswith(origin):
        browser.get(origin + "/app.html")
    result: dict[str, Any] = browser.execute_async_script(FETCH, url, init)
    return result


def test_browser_puts_and_gets_with_presigned_urls(
    browser: Any, client: Any, sites: tuple[Site, Site], moto_endpoint: str
) -> None:
    allowed = sites[0].origin
    key = "from-the-browser.txt"
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
    )
    # A PUT with a Content-Type is not a "simple" request: the browser sends a
    # preflight first, then the PUT.
    put = _fetch(
        browser,
        allowed,
        put_url,
        {
            "method": "PUT",
            "body": "hello from the browser",
            "headers": {"Content-Type": "text/plain"},
        },
    )
    assert put.get("status") == 200, put
    assert put["etag"] and put["rid"]  # exposed by the rule's expose_headers
    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
    )
    got = _fetch(browser, allowed, get_url, {})
    assert got == {**got, "status": 200, "text": "hello from the browser"}
    stored = client.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == b"hello from the browser"


def test_browser_reads_errors_too(browser: Any, client: Any, sites: tuple[Site, Site]) -> None:
    """An error answer carries the CORS headers, so the app can read it."""
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "missing"}, ExpiresIn=300
    )
    got = _fetch(browser, sites[0].origin, url, {})
    assert got.get("status") == 404, got
    assert "<Code>NoSuchKey</Code>" in got["text"]
    tampered = _fetch(browser, sites[0].origin, url.replace("missing", "other"), {})
    assert tampered.get("status") == 403
    assert "SignatureDoesNotMatch" in tampered["text"]


def test_browser_on_another_origin_is_refused(
    browser: Any, client: Any, sites: tuple[Site, Site], cors_gateway: Gateway
) -> None:
    key = "not-from-there.txt"
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
    )
    put = _fetch(
        browser,
        sites[1].origin,
        put_url,
        {"method": "PUT", "body": "nope", "headers": {"Content-Type": "text/plain"}},
    )
    assert "error" in put and "Failed to fetch" in put["error"], put
    # The preflight was refused, so the PUT itself was never sent.
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix=key)
    # A simple GET is sent, but the browser does not let the page read it.
    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "from-the-browser.txt"}, ExpiresIn=300
    )
    assert "error" in _fetch(browser, sites[1].origin, get_url, {})


def test_preflight_answers(cors_gateway: Gateway, sites: tuple[Site, Site]) -> None:
    """What the browser was told, checked on the wire."""
    url = f"{cors_gateway.endpoint}/{BUCKET}/k"
    ok = urllib3.request(
        "OPTIONS",
        url,
        headers={
            "Origin": sites[0].origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        retries=False,
    )
    assert ok.status == 200
    assert ok.headers["access-control-allow-origin"] == sites[0].origin
    assert ok.headers["access-control-allow-methods"] == "GET, PUT, HEAD"
    assert ok.headers["access-control-allow-headers"] == "content-type"
    assert ok.headers["access-control-max-age"] == "60"
    assert ok.headers["x-amz-request-id"]
    for headers in (
        {"Origin": sites[1].origin, "Access-Control-Request-Method": "PUT"},
        {"Origin": sites[0].origin, "Access-Control-Request-Method": "DELETE"},
        {
            "Origin": sites[0].origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-amz-meta-a",
        },
    ):
        refused = urllib3.request("OPTIONS", url, headers=headers, retries=False)
        assert refused.status == 403
        assert b"<Code>AccessForbidden</Code>" in refused.data
        assert b"This CORS request is not allowed" in refused.data
        assert "access-control-allow-origin" not in refused.headers
