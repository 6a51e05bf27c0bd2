"""The unmodified botocore web-identity provider against our STS handler over
real HTTP: `AWS_ENDPOINT_URL` + `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
and nothing else. The S3 requests it then signs with the session credentials
are verified with the gateway's own SigV4 code and credential resolver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from s3gate import errors
from s3gate.handlers.sts import handle_sts, read_sts_params
from s3gate.identity import devissuer
from s3gate.identity.resolver import CredentialResolver
from s3gate.identity.roles import RoleBook
from s3gate.identity.sessions import SessionSealer
from s3gate.identity.settings import IdentitySettings
from s3gate.identity.static_keys import StaticKeys
from s3gate.identity.sts import StsService
from s3gate.s3.sts import is_sts_request
from s3gate.sigv4.auth import parse_request_auth
from s3gate.sigv4.verify import verify_request
from tests.unit.identity.idp import free_port

LIST_BUCKETS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Owner><ID>s3gate</ID></Owner><Buckets/></ListAllMyBucketsResult>"
)
ROLE = "arn:aws:iam::000000000000:role/writer"


@dataclass
class Gateway:
    url: str
    service: StsService
    resolver: CredentialResolver
    sts_calls: list[dict[str, str]] = field(default_factory=list)
    sts_headers: list[dict[str, str]] = field(default_factory=list)
    s3_principals: list[Any] = field(default_factory=list)


def _app(gw: Gateway) -> Starlette:
    async def root(request: Request) -> Response:
        query = dict(parse_qsl(request.url.query))
        if is_sts_request(
            request.method, request.url.path, query, request.headers.get("content-type")
        ):
            params = await read_sts_params(request)
            gw.sts_calls.append(params)
            gw.sts_headers.append(dict(request.headers))
            return await handle_sts(params, "REQ", gw.service)
        pairs = [(k.decode().lower(), v.decode()) for k, v in request.scope["headers"]]
        try:
            auth = parse_request_auth(pairs, [])
            assert auth is not None
            credential = gw.resolver.resolve(auth.access_key_id, auth.security_token)
            verify_request(
                auth,
                credential.secret,
                method=request.method,
                raw_path=request.scope["raw_path"],
                raw_query=request.scope["query_string"],
                headers=pairs,
                now=datetime.now(UTC),
            )
        except errors.S3Error as exc:
            return Response(
                exc.to_xml("REQ"), status_code=exc.http_status, media_type="application/xml"
            )
        gw.s3_principals.append(credential.principal)
        return Response(LIST_BUCKETS, media_type="application/xml")

    return Starlette(routes=[Route("/{path:path}", root, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    data = tmp_path_factory.mktemp("dev")
    port = free_port()
    overrides = devissuer.identity_overrides(data, "127.0.0.1", port, Path("unused"))
    settings = IdentitySettings(**overrides)
    roles = RoleBook.parse(
        {
            "roles": [
                {
                    "name": "writer",
                    "arn": ROLE,
                    # The shortest sessions: botocore refreshes them at once.
                    "max_session_seconds": 900,
                    "trust": {
                        "issuers": ["dev"],
                        "subjects": ["*"],
                        "groups_any": ["trace-writers"],
                    },
                }
            ]
        },
        "inline",
    )
    sealer = SessionSealer.from_settings(settings)
    assert sealer is not None
    gw = Gateway(
        url=f"http://127.0.0.1:{port}",
        service=StsService.from_settings(settings, sealer, roles),
        resolver=CredentialResolver(StaticKeys([]), sealer),
    )
    config = uvicorn.Config(
        _app(gw), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield gw, data
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def web_identity_env(
    gateway: tuple[Gateway, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Gateway, Path]:
    gw, data = gateway
    token_file = tmp_path / "token"
    # With the newline `s3gate dev token > file` leaves: botocore sends the
    # file as read.
    token_file.write_text(devissuer.cli_token(data, "agent-7", ["trace-writers"], "1h") + "\n")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_SESSION_NAME",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", gw.url)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    gw.sts_calls.clear()
    gw.sts_headers.clear()
    gw.s3_principals.clear()
    return gw, token_file


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", None])
def test_boto3_web_identity_flow(
    web_identity_env: tuple[Gateway, Path], monkeypatch: pytest.MonkeyPatch, region: str | None
) -> None:
    gw, _ = web_identity_env
    if region is not None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    # No region at all also works: botocore's STS client then has none, and
    # with an endpoint URL it needs none.
    s3 = boto3.session.Session().client("s3")
    s3.list_buckets()
    # The SDK went to our STS, unsigned, with its own default session name.
    assert len(gw.sts_calls) == 1
    call = gw.sts_calls[0]
    assert call["Action"] == "AssumeRoleWithWebIdentity"
    assert call["RoleArn"] == ROLE
    assert call["RoleSessionName"].startswith("botocore-session-")
    assert "authorization" not in gw.sts_headers[0]
    # The S3 request carried the session credentials and verified.
    principal = gw.s3_principals[-1]
    assert (principal.source, principal.subject, principal.role) == ("session", "agent-7", "writer")
    assert principal.access_key_id.startswith("ASIA")
    # 900-second sessions are inside botocore's refresh window: the next call
    # exchanges the token again, by itself.
    s3.list_buckets()
    assert len(gw.sts_calls) == 2
    assert len({p.access_key_id for p in gw.s3_principals}) == 2


def test_sts_client_with_endpoint_url(web_identity_env: tuple[Gateway, Path]) -> None:
    gw, token_file = web_identity_env
    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=gw.url,
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
    )
    answer = sts.assume_role_with_web_identity(
        RoleArn=ROLE,
        RoleSessionName="cli",
        WebIdentityToken=token_file.read_text(),
        DurationSeconds=900,
    )
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/writer/cli"
    with pytest.raises(sts.exceptions.InvalidIdentityTokenException):
        sts.assume_role_with_web_identity(
            RoleArn=ROLE,
            RoleSessionName="cli",
            WebIdentityToken=token_file.read_text()[:-8] + "AAAAAAAA",
        )
    with pytest.raises(sts.exceptions.ClientError) as raised:
        sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::000000000000:role/analyst",
            RoleSessionName="cli",
            WebIdentityToken=token_file.read_text(),
        )
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
