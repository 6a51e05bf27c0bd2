"""The gateway's wiring (gateway.py), in process: the app built as `s3gate
serve` builds it (app.create_app) over the embedded local store with the
example policies, driven through httpx's ASGI transport. Only what
gateway.py itself does: every refusal is one S3 error document with the
request id in its body and headers, an operation s3gate does not route is
NotImplemented before any authentication, an error that the audit trail
cannot keep replaces the answer, a refused upload's unread body closes the
connection, and every refused request has its access-log line and its
audit event."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import httpx
import pytest
import pytest_asyncio
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.responses import Response

from s3gate import config, errors
from s3gate.app import create_app
from s3gate.audit.write.log import AuditLog
from s3gate.handlers import HANDLERS
from s3gate.handlers.call import Call

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
POLICIES = Path(__file__).resolve().parents[2] / "policies"
ORIGIN = "http://gw.test"
KEY_ID = "AKIAUNITGATEWAY00001"
SECRET = "unit-gateway-secret-not-a-real-one"
CLIENT_IP = "10.1.2.3"
APP_ORIGIN = "https://notebooks.example.com"  # the traces bucket's CORS rule

# One gateway for the module: building it (bundle, keys, store) is most of
# the cost; each test uses keys of its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


class Lines(logging.Handler):
    """The access log's lines, as the operator's log collector sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


@dataclass
class Gw:
    http: httpx.AsyncClient
    settings: config.Settings
    access: Lines

    def events(self) -> list[dict[str, Any]]:
        """Every audit event durable in the spool (shipping is held off)."""
        spool = self.settings.audit.directory(self.settings.data_dir) / "spool"
        found = []
        for segment in sorted(spool.glob("*.log")):
            for line in segment.read_bytes().splitlines():
                found.append(json.loads(line.split(b" ", 1)[1]))
        return found

    def event_of(self, request_id: str) -> dict[str, Any]:
        mine = [e for e in self.events() if e.get("request_id") == request_id]
        assert len(mine) == 1, mine
        return mine[0]

    def line_of(self, request_id: str) -> dict[str, Any]:
        mine = [line for line in self.access.lines if line.get("request_id") == request_id]
        assert len(mine) == 1, mine
        return mine[0]

    async def signed(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        request = AWSRequest(method=method, url=ORIGIN + path, data=body, headers=headers or {})
        request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        S3SigV4Auth(Credentials(KEY_ID, SECRET), "s3", "us-east-1").add_auth(request)
        return await self.http.request(
            method, path, content=body, headers=dict(request.headers.items())
        )

    async def keys(self) -> list[str]:
        """The keys in the traces bucket, listed by the admin."""
        listing = await self.signed("GET", "/traces?list-type=2")
        assert listing.status_code == 200
        root = SafeET.fromstring(listing.content)
        return [k.text or "" for k in root.iterfind(f"{{{NS}}}Contents/{{{NS}}}Key")]


@pytest.fixture(scope="module")
def access_lines() -> Iterator[Lines]:
    # Installed before the app: AccessLog then adds no stdout handler.
    logger = logging.getLogger("s3gate.access")
    handler = Lines()
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(saved[0])
    logger.propagate = saved[1]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory, access_lines: Lines) -> AsyncIterator[Gw]:
    tmp_path = tmp_path_factory.mktemp("gateway")
    settings = config.load(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "upstream": {
                "type": "local",
                "path": str(tmp_path / "store"),
                "create_buckets": ["traces", "audit"],
            },
            "policy": {"dir": str(POLICIES), "watch": False},
            "audit": {"generate_key": True, "replica_id": "unit", "batch_max_seconds": 3600},
            "cors": {
                "traces": [
                    {
                        "allowed_origins": [APP_ORIGIN],
                        "allowed_methods": ["GET", "PUT"],
                        "expose_headers": ["x-amz-request-id"],
                    }
                ]
            },
            "static_keys": [
                {
                    "access_key_id": KEY_ID,
                    "secret_access_key": {"value": SECRET},
                    "principal": {"name": "dev-admin", "groups": ["admins"]},
                }
            ],
        },
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http,
    ):
        yield Gw(http, settings, access_lines)


def _error(response: httpx.Response) -> dict[str, str]:
    """The one `<Error>` document of a response, as a dict; its request id
    is the response's."""
    assert response.headers["content-type"] == "application/xml"
    assert response.content.count(b"<Error>") == 1
    root = SafeET.fromstring(response.content)
    assert root.tag == "Error"
    fields = {child.tag: child.text or "" for child in root}
    request_id = response.headers["x-amz-request-id"]
    assert fields["RequestId"] == request_id and request_id
    assert response.headers.get_list("x-amz-request-id") == [request_id]
    assert response.headers["x-amz-id-2"] == request_id
    return fields


# ---- refused before any handler: unauthenticated ---------------------------------

UNAUTHENTICATED = [
    pytest.param("GET", "/traces/run.jsonl", "/traces/run.jsonl", id="GetObject"),
    pytest.param("GET", "/traces", "/traces", id="ListObjects"),
    pytest.param("GET", "/", "/", id="ListBuckets"),
    pytest.param("DELETE", "/traces/run.jsonl", "/traces/run.jsonl", id="DeleteObject"),
    pytest.param("POST", "/traces?delete", "/traces", id="DeleteObjects"),
]


@pytest.mark.parametrize(("method", "path", "resource"), UNAUTHENTICATED)
async def test_an_unauthenticated_request_gets_access_denied_with_its_request_id(
    gw: Gw, method: str, path: str, resource: str
) -> None:
    response = await gw.http.request(method, path)
    assert response.status_code == 403
    error = _error(response)
    assert error["Code"] == "AccessDenied"
    assert error["Resource"] == resource
    request_id = response.headers["x-amz-request-id"]
    line = gw.line_of(request_id)
    assert (line["status"], line["error"]) == (403, "AccessDenied")
    assert line["source_ip"] == CLIENT_IP
    event = gw.event_of(request_id)
    assert event["error_code"] == "AccessDenied" and event["status"] == 403
    assert event["principal"] is None


async def test_request_ids_are_fresh_per_request(gw: Gw) -> None:
    ids = {(await gw.http.get("/traces/k")).headers["x-amz-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_a_head_error_has_no_body_but_its_request_id(gw: Gw) -> None:
    response = await gw.http.head("/traces/run.jsonl")
    assert response.status_code == 403 and response.content == b""
    request_id = response.headers["x-amz-request-id"]
    assert response.headers["x-amz-id-2"] == request_id
    assert gw.line_of(request_id)["error"] == "AccessDenied"
    assert gw.event_of(request_id)["error_code"] == "AccessDenied"


# ---- what s3gate does not route -----------------------------------------------------

NOT_ROUTED = [
    pytest.param(
        "GET", "/traces?lifecycle", "/traces", "ListObjects?lifecycle", id="GET-lifecycle"
    ),
    pytest.param(
        "PUT",
        "/traces/retained?retention",
        "/traces/retained",
        "PutObject?retention",
        id="PUT-retention",
    ),
    pytest.param("GET", "/traces?cors", "/traces", "ListObjects?cors", id="GET-cors"),
    pytest.param("POST", "/traces/k?restore", "/traces/k", "Unknown", id="POST-restore"),
]


@pytest.mark.parametrize(("method", "path", "resource", "operation"), NOT_ROUTED)
async def test_an_operation_s3gate_does_not_route_is_not_implemented_unsigned_or_signed(
    gw: Gw, method: str, path: str, resource: str, operation: str
) -> None:
    for response in (await gw.http.request(method, path), await gw.signed(method, path)):
        assert response.status_code == 501
        error = _error(response)
        assert error["Code"] == "NotImplemented" and error["Resource"] == resource
        request_id = response.headers["x-amz-request-id"]
        # Named as far as it can be told, for the operator's log and audit.
        assert gw.line_of(request_id)["operation"] == operation
        event = gw.event_of(request_id)
        assert (event["operation"], event["error_code"]) == (operation, "NotImplemented")
    assert "retained" not in await gw.keys()


async def test_a_method_no_endpoint_serves_is_method_not_allowed(gw: Gw) -> None:
    response = await gw.signed("PATCH", "/traces/k")
    assert response.status_code == 405
    assert _error(response)["Code"] == "MethodNotAllowed"
    request_id = response.headers["x-amz-request-id"]
    assert gw.event_of(request_id)["error_code"] == "MethodNotAllowed"
    assert gw.line_of(request_id)["operation"] == "Unknown"


async def test_an_invalid_bucket_name_is_refused_and_recorded(gw: Gw) -> None:
    response = await gw.http.get("/Not_A_Bucket/k")
    assert response.status_code == 400
    error = _error(response)
    assert error["Code"] == "InvalidBucketName" and error["BucketName"] == "Not_A_Bucket"
    request_id = response.headers["x-amz-request-id"]
    assert gw.line_of(request_id)["bucket"] == "Not_A_Bucket"
    assert gw.event_of(request_id)["error_code"] == "InvalidBucketName"


# ---- the unread body --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "closes"),
    [
        pytest.param("PUT", "/traces/unread.jsonl", b'{"a":1}\n' * 100, 403, True, id="put"),
        pytest.param(
            "PUT", "/traces/unread.jsonl?retention", b"<Retention/>", 501, True, id="retention"
        ),
        pytest.param("GET", "/traces/unread.jsonl", b"", 403, False, id="get-no-body"),
    ],
)
async def test_a_refused_requests_unread_body_closes_the_connection(
    gw: Gw, method: str, path: str, body: bytes, status: int, closes: bool
) -> None:
    response = await gw.http.request(method, path, content=body)
    assert response.status_code == status
    assert (response.headers.get("connection") == "close") is closes
    assert "unread.jsonl" not in await gw.keys()  # nothing partial reached the store


async def test_an_answered_request_keeps_the_connection(gw: Gw) -> None:
    response = await gw.signed("PUT", "/traces/alpha/ok.txt", b"plain text, nothing to mask")
    assert response.status_code == 200, response.text
    assert "connection" not in response.headers
    assert "alpha/ok.txt" in await gw.keys()


# ---- allowed, failing inside, and an audit trail that cannot keep the event -------


async def test_an_allowed_request_has_its_request_id_log_line_and_event(gw: Gw) -> None:
    response = await gw.signed("GET", "/traces?list-type=2")
    assert response.status_code == 200
    request_id = response.headers["x-amz-request-id"]
    assert response.headers["x-amz-id-2"] == request_id
    line = gw.line_of(request_id)
    assert (line["operation"], line["status"], line["principal"]) == (
        "ListObjectsV2",
        200,
        "dev-admin",
    )
    event = gw.event_of(request_id)
    assert event["decision"] == "allow" and event["status"] == 200
    assert event["policy_ids"] == ["dev-admin.all"]
    assert event["principal"]["subject"] == "dev-admin"
    assert event["source_ip"] == CLIENT_IP


async def test_an_internal_failure_is_one_internal_error_document(
    gw: Gw, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(call: Call) -> Response:
        raise RuntimeError("secret detail that must not reach the client")

    monkeypatch.setitem(HANDLERS, "ListBuckets", broken)
    with caplog.at_level(logging.ERROR, logger="s3gate"):
        response = await gw.signed("GET", "/")
    assert response.status_code == 500
    error = _error(response)
    assert error["Code"] == "InternalError"
    assert b"secret detail" not in response.content
    request_id = response.headers["x-amz-request-id"]
    # The operator finds the traceback by the id the client was given.
    assert any(getattr(r, "request_id", None) == request_id for r in caplog.records)
    assert gw.event_of(request_id)["error_code"] == "InternalError"
    assert gw.line_of(request_id)["error"] == "InternalError"


async def test_an_event_the_audit_cannot_keep_replaces_the_answer(
    gw: Gw, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: AuditLog, event: object) -> None:
        raise errors.ServiceUnavailable("The audit spool is unavailable")

    monkeypatch.setattr(AuditLog, "record", refuse)
    for response in (
        await gw.signed("GET", "/traces?list-type=2"),  # would have been a 200
        await gw.http.get("/traces/unaudited"),  # would have been a 403
        await gw.http.put("/traces/unaudited", content=b"data"),
    ):
        assert response.status_code == 503
        assert _error(response)["Code"] == "ServiceUnavailable"
        request_id = response.headers["x-amz-request-id"]
        assert gw.line_of(request_id)["error"] == "ServiceUnavailable"
    assert response.headers["connection"] == "close"  # the PUT's body was never read
    monkeypatch.undo()
    assert "unaudited" not in await gw.keys()


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        # A gateway endpoint asked with a method it does not serve is an S3
        # request to the bucket "_s3gate".
        pytest.param("DELETE", "/_s3gate/healthz", 400, "InvalidBucketName", id="endpoint-method"),
        # A path the catch-all route does not match (a line break).
        pytest.param("GET", "/traces/a%0Ab", 403, "AccessDenied", id="line-break-path"),
    ],
)
async def test_what_no_route_serves_is_answered_audited_and_logged(
    gw: Gw, method: str, path: str, status: int, code: str
) -> None:
    response = await gw.http.request(method, path)
    assert response.status_code == status
    assert _error(response)["Code"] == code
    request_id = response.headers["x-amz-request-id"]
    assert gw.event_of(request_id)["error_code"] == code
    assert gw.line_of(request_id)["status"] == status


@pytest.mark.parametrize(
    ("origin", "method", "status"),
    [
        pytest.param(APP_ORIGIN, "GET", 200, id="allowed"),
        pytest.param("https://evil.example", "GET", 403, id="other-origin"),
        pytest.param(APP_ORIGIN, "DELETE", 403, id="other-method"),
    ],
)
async def test_a_cors_preflight_is_answered_audited_and_logged(
    gw: Gw, origin: str, method: str, status: int
) -> None:
    response = await gw.http.options(
        "/traces/k", headers={"origin": origin, "access-control-request-method": method}
    )
    assert response.status_code == status
    request_id = response.headers["x-amz-request-id"]
    if status == 200:
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    else:
        assert _error(response)["Code"] == "AccessForbidden"
        assert "access-control-allow-origin" not in response.headers
    assert gw.event_of(request_id)["operation"] == "PreflightCORS"
    assert gw.line_of(request_id)["operation"] == "PreflightCORS"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/traces/k", 403, id="unauthenticated"),
        pytest.param("GET", "/traces?lifecycle", 501, id="not-implemented"),
    ],
)
async def test_errors_carry_the_buckets_cors_headers(
    gw: Gw, method: str, path: str, status: int
) -> None:
    # A browser app can read only what carries them: errors too.
    response = await gw.http.request(method, path, headers={"origin": APP_ORIGIN})
    assert response.status_code == status
    _error(response)
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    other = await gw.http.request(method, path, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_an_sts_request_has_its_request_id_event_and_log_line(gw: Gw) -> None:
    # No session keys configured: STS is off, and says so as STS does.
    response = await gw.http.post(
        "/",
        content=b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::0:role/x"
        b"&RoleSessionName=s&WebIdentityToken=not-a-token",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    root = SafeET.fromstring(response.content)
    sts = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.findtext(f"{sts}Error/{sts}Code") == "InvalidAction"
    request_id = response.headers["x-amz-request-id"]
    assert root.findtext(f"{sts}RequestId") == request_id
    assert response.headers["x-amzn-requestid"] == request_id
    event = gw.event_of(request_id)
    assert (event["type"], event["decision"]) == ("sts.exchange", "deny")
    assert event["details"]["role_arn"] == "arn:aws:iam::0:role/x"
    line = gw.line_of(request_id)
    assert (line["status"], line["error"]) == (400, "InvalidAction")
