"""The approver's client turns what goes wrong before the gateway answers
(credentials refused by STS, no gateway listening) into an ApiError, which
the CLI prints as one line with exit status 1, never a traceback.

Found by following the README as a new user: an approver whose token may
not assume the role got botocore's traceback from `s3gate approvals list`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from s3gate.approvals.client import ApiError, ApprovalsClient
from s3gate.cli import main

STS_REFUSAL = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    b"<Type>Sender</Type><Code>AccessDenied</Code>"
    b"<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>"
    b"</Error><RequestId>R1</RequestId></ErrorResponse>"
)


class _Refuse(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(403)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(STS_REFUSAL)))
        self.end_headers()
        self.wfile.write(STS_REFUSAL)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_sts() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "S3GATE_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_credentials_refused_by_sts_are_an_api_error(
    refusing_sts: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    token = tmp_path / "approver.jwt"
    token.write_text("e30.e30.sig")
    monkeypatch.setenv("AWS_ENDPOINT_URL", refusing_sts)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/break-glass")
    with pytest.raises(ApiError) as err:
        ApprovalsClient(refusing_sts).list()
    assert err.value.code == "AccessDenied"
    assert "Not authorized" in err.value.message


def test_no_gateway_listening_is_an_api_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = _closed_port()
    with pytest.raises(ApiError) as err:
        ApprovalsClient(endpoint, timeout=5).list()
    assert err.value.code == "Unreachable"
    assert endpoint in err.value.message


def test_cli_prints_one_line_and_exits_1(
    refusing_sts: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clean_env(monkeypatch, tmp_path)
    token = tmp_path / "approver.jwt"
    token.write_text("e30.e30.sig")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/break-glass")
    monkeypatch.setenv("AWS_ENDPOINT_URL", refusing_sts)
    assert main(["approvals", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("s3gate approvals: AccessDenied: ")
    assert "Traceback" not in err
