"""STS AssumeRoleWithWebIdentity: parameters, the exchange, the XML an
unmodified botocore reads, and the HTTP handler."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.parsers import QueryParser
from starlette.requests import Request

from s3gate.handlers.outcome import Tally
from s3gate.handlers.sts import handle_sts, read_sts_params, serve_sts
from s3gate.identity import sts_xml
from s3gate.identity.roles import RoleBook
from s3gate.identity.sessions import SessionSealer
from s3gate.identity.settings import IdentitySettings, IssuerSettings
from s3gate.identity.sts import StsService, parse_request
from s3gate.identity.sts_errors import (
    AccessDenied,
    ExpiredTokenException,
    IDPCommunicationError,
    IDPRejectedClaim,
    InvalidIdentityToken,
    StsError,
    ValidationError,
)
from s3gate.s3.sts import is_sts_request
from tests.unit.identity.idp import AUDIENCE, SigningKey, sign, standard_claims

ISSUER = "https://idp.example"
ROLE = "arn:aws:iam::111122223333:role/analyst"
STS_MODEL = botocore.session.get_session().get_service_model("sts")
OPERATION = STS_MODEL.operation_model("AssumeRoleWithWebIdentity")


def parse(body: bytes, status: int) -> dict[str, Any]:
    shape = OPERATION.output_shape if status == 200 else None
    response = {"body": body, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = QueryParser().parse(response, shape)
    return parsed


@pytest.fixture
async def service(tmp_path: Path, keys: dict[str, SigningKey]) -> AsyncIterator[StsService]:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [keys["ed"].public_jwk()]}))
    settings = IdentitySettings(
        issuers=[
            IssuerSettings(name="corp", issuer=ISSUER, jwks_file=jwks, audiences=[AUDIENCE]),
            IssuerSettings(
                name="down",
                issuer="https://down.example",
                jwks_file=tmp_path / "absent.json",
                audiences=[AUDIENCE],
            ),
        ],
        session_keys=[{"id": "k1", "secret": {"value": "A" * 43}}],
        active_session_key="k1",
        default_session_seconds=7200,
    )
    roles = RoleBook.parse(
        {
            "roles": [
                {
                    "name": "analyst",
                    "arn": ROLE,
                    "max_session_seconds": 3600,
                    "trust": {"issuers": ["corp"], "subjects": ["*"], "groups_any": ["analysts"]},
                }
            ]
        },
        "inline",
    )
    sealer = SessionSealer.from_settings(settings)
    assert sealer is not None
    svc = StsService.from_settings(settings, sealer, roles)
    yield svc
    await svc.close()


def params(token: str, **extra: str) -> dict[str, str]:
    return {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": ROLE,
        "RoleSessionName": "notebook",
        "WebIdentityToken": token,
        **extra,
    }


def token(keys: dict[str, SigningKey], **claims: Any) -> str:
    return sign(keys["ed"], standard_claims(ISSUER, **claims))


async def test_exchange(service: StsService, keys: dict[str, SigningKey]) -> None:
    started = time.time()
    result = await service.assume_role_with_web_identity(params(token(keys)))
    creds = result.credentials
    # Default 7200 s, capped to the role's 3600 s.
    assert 3599 <= creds.expiration.timestamp() - started <= 3601
    assert result.assumed_role_arn == "arn:aws:sts::111122223333:assumed-role/analyst/notebook"
    assert result.assumed_role_id.startswith("AROA") and result.assumed_role_id.endswith(
        ":notebook"
    )
    assert (result.subject_from_token, result.audience, result.provider) == (
        "alice",
        AUDIENCE,
        ISSUER,
    )
    opened = service.sealer.open(creds.session_token, creds.access_key_id)
    assert opened.principal == result.principal  # what S3 requests will see
    assert opened.principal.role == "analyst" and opened.principal.groups == ("analysts",)


async def test_response_parses_with_botocore(
    service: StsService, keys: dict[str, SigningKey]
) -> None:
    response = await handle_sts(params(token(keys), DurationSeconds="900"), "REQ-1", service)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    parsed = parse(bytes(response.body), 200)
    creds = parsed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"].startswith("s3g1.")
    assert 800 < creds["Expiration"].timestamp() - time.time() <= 900
    assert parsed["SubjectFromWebIdentityToken"] == "alice"
    assert parsed["AssumedRoleUser"]["Arn"].endswith(":assumed-role/analyst/notebook")
    assert parsed["Audience"] == AUDIENCE
    assert parsed["Provider"] == ISSUER
    assert parsed["ResponseMetadata"]["RequestId"] == "REQ-1"


ERROR_CASES: list[tuple[str, dict[str, Any], type[StsError], int]] = [
    ("bad token", {"WebIdentityToken": "abcd.efgh.ijkl"}, InvalidIdentityToken, 400),
    ("expired", {"exp": int(time.time()) - 600}, ExpiredTokenException, 400),
    ("rejected claim", {"sub": 42}, InvalidIdentityToken, 400),
    ("subject with control chars", {"sub": "a\u0001b"}, IDPRejectedClaim, 403),
    ("not in group", {"groups": ["other"]}, AccessDenied, 403),
    ("no such role", {"RoleArn": "arn:aws:iam::111122223333:role/nope"}, AccessDenied, 403),
    ("duration over role max", {"DurationSeconds": "7200"}, ValidationError, 400),
    ("duration under 900", {"DurationSeconds": "899"}, ValidationError, 400),
    ("duration over 43200", {"DurationSeconds": "43201"}, ValidationError, 400),
    ("duration not a number", {"DurationSeconds": "1h"}, ValidationError, 400),
    ("session policy", {"Policy": '{"Version":"2012-10-17"}'}, ValidationError, 400),
    ("policy arns", {"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/X"}, ValidationError, 400),
    ("provider id", {"ProviderId": "www.amazon.com"}, ValidationError, 400),
    ("session name too short", {"RoleSessionName": "a"}, ValidationError, 400),
    ("session name bad chars", {"RoleSessionName": "a b"}, ValidationError, 400),
    ("session name too long", {"RoleSessionName": "a" * 65}, ValidationError, 400),
    ("no role arn", {"RoleArn": ""}, ValidationError, 400),
    ("no session name", {"RoleSessionName": ""}, ValidationError, 400),
    ("no token", {"WebIdentityToken": ""}, ValidationError, 400),
    ("issuer down", {"iss": "https://down.example"}, IDPCommunicationError, 400),
]


@pytest.mark.parametrize(
    ("name", "change", "error", "status"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
async def test_errors(
    name: str,
    change: dict[str, Any],
    error: type[StsError],
    status: int,
    service: StsService,
    keys: dict[str, SigningKey],
) -> None:
    claim_names = {"exp", "sub", "groups", "iss"}
    claims = {k: v for k, v in change.items() if k in claim_names}
    fields = {k: v for k, v in change.items() if k not in claim_names}
    good = token(keys, **claims)
    request = params(good, **fields)
    with pytest.raises(error):
        await service.assume_role_with_web_identity(request)
    response = await handle_sts(request, "REQ-2", service)
    assert response.status_code == status == error.status
    body = bytes(response.body)
    parsed = parse(body, status)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["ResponseMetadata"]["RequestId"] == "REQ-2"
    assert b"<Type>Sender</Type>" in body
    # Never the token, nor any part of it.
    for part in request["WebIdentityToken"].split("."):
        assert len(part) < 4 or part.encode() not in body
    assert "cache-control" not in response.headers


def test_error_codes_match_the_sts_model() -> None:
    modelled = {
        s.metadata["error"]["code"]: s.metadata["error"]["httpStatusCode"]
        for s in OPERATION.error_shapes
    }
    for cls in (
        InvalidIdentityToken,
        ExpiredTokenException,
        IDPRejectedClaim,
        IDPCommunicationError,
    ):
        assert modelled[cls.code] == cls.status


def test_botocore_maps_the_codes_to_its_exceptions() -> None:
    client = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    for code in (
        "InvalidIdentityToken",
        "ExpiredTokenException",
        "IDPRejectedClaim",
        "IDPCommunicationError",
    ):
        assert client.exceptions.from_code(code).__name__.startswith(code.removesuffix("Exception"))


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"Action": "AssumeRole"}, "InvalidAction"),
        ({"Action": "AssumeRoleWithWebIdentity", "Version": "2099-01-01"}, "InvalidAction"),
        ({"Action": "<script>"}, "InvalidAction"),
        ({}, "MissingAction"),
    ],
)
async def test_other_actions(fields: dict[str, str], code: str, service: StsService) -> None:
    response = await handle_sts(fields, "REQ-3", service)
    assert response.status_code == 400
    body = bytes(response.body)
    assert parse(body, 400)["Error"]["Code"] == code
    assert b"<script>" not in body


async def test_sts_not_configured() -> None:
    response = await handle_sts(params("a.b.c"), "REQ-4", None)
    assert parse(bytes(response.body), 400)["Error"]["Code"] == "InvalidAction"


async def test_access_log_entry(service: StsService, keys: dict[str, SigningKey]) -> None:
    tally = Tally("REQ-5", "POST")
    await handle_sts(params(token(keys)), "REQ-5", service, tally)
    entry = tally.freeze().log_fields()
    assert entry["operation"] == "sts:AssumeRoleWithWebIdentity"
    assert (entry["principal"], entry["role"], entry["issuer"]) == ("alice", "analyst", "corp")
    assert "error" not in entry
    tally = Tally("REQ-6", "POST")
    await handle_sts(params(token(keys, groups=["x"])), "REQ-6", service, tally)
    entry = tally.freeze().log_fields()
    assert entry["error"] == "AccessDenied"


def test_parse_request_defaults() -> None:
    request = parse_request(params("aaaa.bbbb.cccc"))
    assert request.duration_seconds is None
    assert "aaaa" not in repr(request)


def test_xml_escapes() -> None:
    err = ValidationError("a < b & c")
    assert b"a &lt; b &amp; c" in sts_xml.error(err, "R")


@pytest.mark.parametrize(
    ("method", "path", "query", "ctype", "expected"),
    [
        ("POST", "/", {}, "application/x-www-form-urlencoded; charset=utf-8", True),
        ("POST", "/", {}, "application/xml", False),
        ("POST", "/bucket", {}, "application/x-www-form-urlencoded", False),
        ("GET", "/", {"Action": "AssumeRoleWithWebIdentity"}, None, True),
        ("GET", "/", {}, None, False),
        ("PUT", "/", {"Action": "x"}, None, False),
    ],
)
def test_is_sts_request(
    method: str, path: str, query: dict[str, str], ctype: str | None, expected: bool
) -> None:
    assert is_sts_request(method, path, query, ctype) is expected


def _request(method: str, body: bytes = b"", query: bytes = b"", length: bool = True) -> Request:
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if length:
        headers.append((b"content-length", str(len(body)).encode()))
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    scope = {
        "type": "http",
        "method": method,
        "path": "/",
        "query_string": query,
        "headers": headers,
    }
    return Request(scope, receive)


async def test_read_params_post_and_get() -> None:
    form = urlencode(params("t.o.k", RoleSessionName="a+b=c,d.e@f-g")).encode()
    got = await read_sts_params(_request("POST", form))
    assert got["RoleSessionName"] == "a+b=c,d.e@f-g"
    got = await read_sts_params(_request("GET", query=form))
    assert got["WebIdentityToken"] == "t.o.k"


@pytest.mark.parametrize(
    ("body", "length"),
    [
        (b"Action=x&" + b"a=" + b"x" * 70000, True),  # declared too large
        (b"Action=x&" + b"a=" + b"x" * 70000, False),  # streamed too large
        (b"RoleArn=a&RoleArn=b", True),  # repeated
        (b"a=%FF", True),  # not UTF-8
        ("a=é".encode(), True),  # not ASCII on the wire
        (b"&".join(b"f%d=1" % i for i in range(100)), True),  # too many fields
    ],
)
async def test_read_params_refusals(body: bytes, length: bool) -> None:
    with pytest.raises(ValidationError):
        await read_sts_params(_request("POST", body, length=length))


async def test_serve_sts(service: StsService, keys: dict[str, SigningKey]) -> None:
    tally = Tally("R1", "POST")
    ok = await serve_sts(
        _request("POST", urlencode(params(token(keys))).encode()), "R1", service, tally
    )
    assert ok.status_code == 200 and tally.role == "analyst"
    tally = Tally("R2", "POST")
    too_big = await serve_sts(_request("POST", b"a=" + b"x" * 70000), "R2", service, tally)
    assert too_big.status_code == 400
    assert parse(bytes(too_big.body), 400)["Error"]["Code"] == "ValidationError"
    assert tally.error == "ValidationError"
