"""CORS rule matching (s3.cors): preflights and actual responses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from s3gate import errors
from s3gate.s3.cors import CorsRule, preflight, response_headers

RULES = (
    CorsRule(
        allowed_origins=("https://app.example", "http://*.dev.example"),
        allowed_methods=("GET", "PUT"),
        allowed_headers=("content-type", "x-amz-*"),
        expose_headers=("ETag",),
        max_age_seconds=600,
    ),
    CorsRule(allowed_origins=("*",), allowed_methods=("GET",)),
)


def _pre(origin: str | None, method: str | None, headers: str | None = None) -> dict[str, str]:
    sent = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return preflight(RULES, {k: v for k, v in sent.items() if v is not None})


def test_preflight_first_matching_rule() -> None:
    got = _pre("https://app.example", "PUT", "Content-Type, X-Amz-Meta-A")
    assert got["access-control-allow-origin"] == "https://app.example"
    assert got["access-control-allow-credentials"] == "true"
    assert got["access-control-allow-methods"] == "GET, PUT"
    assert got["access-control-allow-headers"] == "Content-Type, X-Amz-Meta-A"
    assert got["access-control-expose-headers"] == "ETag"
    assert got["access-control-max-age"] == "600"
    assert "Origin" in got["vary"]


def test_preflight_wildcards() -> None:
    assert _pre("http://a.dev.example", "GET")["access-control-allow-origin"] == (
        "http://a.dev.example"
    )
    # Falls through to the open rule: `*`, no credentials.
    got = _pre("https://elsewhere.example", "GET")
    assert got["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in got


@pytest.mark.parametrize(
    ("origin", "method", "headers", "error", "fragment"),
    [
        (None, "GET", None, errors.CORSBadRequest, "Origin"),
        ("https://app.example", None, None, errors.CORSBadRequest, "Method"),
        ("https://elsewhere.example", "PUT", None, errors.CORSForbidden, "not allowed"),
        ("https://app.example", "DELETE", None, errors.CORSForbidden, "not allowed"),
        ("https://app.example", "PUT", "authorization", errors.CORSForbidden, "not allowed"),
        ("https://app.example.evil", "PUT", None, errors.CORSForbidden, "not allowed"),
        ("http://dev.example", "PUT", None, errors.CORSForbidden, "not allowed"),
        (
            "https://app.example",
            "PUT",
            ",".join(["content-type"] * 65),
            errors.CORSForbidden,
            "not allowed",
        ),
    ],
)
def test_preflight_refusals(
    origin: str | None,
    method: str | None,
    headers: str | None,
    error: type[errors.S3Error],
    fragment: str,
) -> None:
    with pytest.raises(error, match=fragment) as caught:
        _pre(origin, method, headers)
    assert caught.value.http_status in (400, 403)


def test_preflight_without_rules() -> None:
    with pytest.raises(errors.CORSForbidden, match="not enabled") as caught:
        preflight(None, {"origin": "https://app.example", "access-control-request-method": "GET"})
    assert caught.value.error_code == "AccessForbidden"
    assert caught.value.http_status == 403


def test_actual_response_headers() -> None:
    got = response_headers(RULES, "https://app.example", "PUT")
    assert got["access-control-allow-origin"] == "https://app.example"
    assert got["access-control-expose-headers"] == "ETag"
    # A method no rule allows for this origin: only Vary.
    assert set(response_headers(RULES, "https://elsewhere.example", "PUT")) == {"vary"}
    assert set(response_headers(RULES, None, "GET")) == {"vary"}
    assert response_headers(None, "https://app.example", "GET") == {}


@pytest.mark.parametrize(
    "rule",
    [
        {"allowed_origins": [], "allowed_methods": ["GET"]},
        {"allowed_origins": ["*"], "allowed_methods": []},
        {"allowed_origins": ["*"], "allowed_methods": ["PATCH"]},
        {"allowed_origins": ["https://*.*.example"], "allowed_methods": ["GET"]},
        {"allowed_origins": ["*"], "allowed_methods": ["GET"], "allowed_headers": ["a**"]},
        {"allowed_origins": ["*"], "allowed_methods": ["GET"], "expose_headers": ["a b"]},
        {"allowed_origins": ["*"], "allowed_methods": ["GET"], "max_age_seconds": -1},
    ],
)
def test_bad_rules_refused(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CorsRule(**rule)


def test_config_section() -> None:
    from s3gate.config import ConfigError, load

    rule = {"allowed_origins": ["*"], "allowed_methods": ["GET"]}
    quiet = {"audit": {"enabled": False}}
    settings = load(overrides={**quiet, "cors": {"traces": [rule]}})
    assert settings.cors["traces"][0].allowed_methods == ("GET",)
    with pytest.raises(ConfigError, match="cors"):
        load(overrides={**quiet, "cors": {"Not_A_Bucket": [rule]}})
