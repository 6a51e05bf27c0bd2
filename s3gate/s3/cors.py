"""CORS, per bucket, from the gateway's configuration (not from the store).

A bucket's CORS rules are the operator's decision, so they live in the
gateway's config (`cors:` → bucket → rules) rather than in PutBucketCors,
which s3gate does not implement. The rules are S3's: the first rule whose
origin, method and (for a preflight) every requested header match decides;
each of AllowedOrigins / AllowedHeaders may hold one `*` wildcard.

A preflight (`OPTIONS`) carries no credentials, as in S3: it is answered from
the configuration alone, and it grants nothing by itself — the actual request
is still authenticated and decided by policy. A preflight that no rule allows
is refused with S3's 403 `AccessForbidden`. Actual responses (errors included)
carry the CORS headers of the matching rule, so a browser app can read an
error as well as an object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, field_validator

from s3gate import errors
from s3gate.configbase import Section

Method = Literal["GET", "PUT", "POST", "DELETE", "HEAD"]
# A preflight asking for more headers than this is refused without matching
# (bounded work for an unauthenticated request).
MAX_REQUESTED_HEADERS = 64
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the "
    "evaluation of Origin, request method / Access-Control-Request-Method or "
    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)


class CorsRule(Section):
    allowed_origins: tuple[str, ...] = Field(min_length=1)
    allowed_methods: tuple[Method, ...] = Field(min_length=1)
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = Field(default=None, ge=0)

    @field_validator("allowed_origins", "allowed_headers")
    @classmethod
    def _one_wildcard(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if value.count("*") > 1:
                raise ValueError(f"{value!r}: at most one '*' wildcard (as S3)")
            if not value:
                raise ValueError("empty entries are not allowed")
        return values

    @field_validator("expose_headers")
    @classmethod
    def _header_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _TOKEN.match(value):
                raise ValueError(f"{value!r} is not a header name")
        return values

    def allows_origin(self, origin: str) -> bool:
        return any(_wildcard_match(p, origin, fold=False) for p in self.allowed_origins)

    def allows_headers(self, names: Sequence[str]) -> bool:
        return all(
            any(_wildcard_match(p, name, fold=True) for p in self.allowed_headers) for name in names
        )


def _wildcard_match(pattern: str, value: str, *, fold: bool) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _allow_origin(rule: CorsRule, origin: str) -> dict[str, str]:
    # A rule open to every origin answers `*` and no credentials, as S3 does.
    if "*" in rule.allowed_origins:
        return {"access-control-allow-origin": "*"}
    return {"access-control-allow-origin": origin, "access-control-allow-credentials": "true"}


def _rule_headers(rule: CorsRule, origin: str) -> dict[str, str]:
    out = _allow_origin(rule, origin)
    out["access-control-allow-methods"] = ", ".join(rule.allowed_methods)
    if rule.expose_headers:
        out["access-control-expose-headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        out["access-control-max-age"] = str(rule.max_age_seconds)
    return out


def preflight(rules: Sequence[CorsRule] | None, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a successful preflight; raises S3's error otherwise."""
    origin = headers.get("origin")
    if not origin:
        raise errors.CORSBadRequest()
    method = headers.get("access-control-request-method")
    if not method:
        raise errors.CORSBadRequest("Invalid Access-Control-Request-Method: null")
    if not rules:
        raise errors.CORSForbidden(NOT_ENABLED, extra={"Method": method})
    requested = [
        h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()
    ]
    if len(requested) > MAX_REQUESTED_HEADERS:
        raise errors.CORSForbidden(NOT_ALLOWED, extra={"Method": method})
    for rule in rules:
        if (
            method in rule.allowed_methods
            and rule.allows_origin(origin)
            and rule.allows_headers(requested)
        ):
            out = _rule_headers(rule, origin)
            if requested:
                out["access-control-allow-headers"] = ", ".join(requested)
            out["vary"] = VARY
            return out
    raise errors.CORSForbidden(NOT_ALLOWED, extra={"Method": method})


def response_headers(
    rules: Sequence[CorsRule] | None, origin: str | None, method: str
) -> dict[str, str]:
    """CORS headers for an actual (non-preflight) response: those of the first
    rule allowing this origin and method, none when there is none."""
    if not rules:
        return {}
    out = {"vary": VARY}
    if origin:
        for rule in rules:
            if method in rule.allowed_methods and rule.allows_origin(origin):
                out.update(_rule_headers(rule, origin))
                break
    return out
