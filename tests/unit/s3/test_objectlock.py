"""Object Lock headers on client requests are refused (s3.objectlock); the
store's lock headers are returned on GET/HEAD (s3.headers.object_headers)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3gate import errors
from s3gate.s3.headers import object_headers
from s3gate.s3.model import ObjectHead
from s3gate.s3.objectlock import refuse_lock_headers


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"x-amz-object-lock-mode": "GOVERNANCE"}, "x-amz-object-lock-mode"),
        ({"x-amz-object-lock-mode": "COMPLIANCE"}, "x-amz-object-lock-mode"),
        (
            {"x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"},
            "x-amz-object-lock-retain-until-date",
        ),
        ({"x-amz-object-lock-legal-hold": "ON"}, "x-amz-object-lock-legal-hold"),
        # Even the "off" value: the gateway never forwards these at all.
        ({"x-amz-object-lock-legal-hold": "OFF"}, "x-amz-object-lock-legal-hold"),
        ({"x-amz-object-lock-anything-new": "1"}, "x-amz-object-lock-anything-new"),
        ({"x-amz-bucket-object-lock-enabled": "true"}, "x-amz-bucket-object-lock-enabled"),
        ({"x-amz-bucket-object-lock-enabled": ""}, "x-amz-bucket-object-lock-enabled"),
        ({"x-amz-bucket-object-lock-token": "t"}, "x-amz-bucket-object-lock-token"),
    ],
)
def test_lock_headers_are_refused(headers: dict[str, str], named: str) -> None:
    with pytest.raises(errors.InvalidRequest) as exc:
        refuse_lock_headers({"content-type": "text/plain", **headers})
    assert named in exc.value.message
    assert exc.value.status == 400


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "text/plain", "x-amz-meta-lock": "x"},
        # What SDKs send when the option is off asks for nothing.
        {"x-amz-bucket-object-lock-enabled": "false"},
        {"x-amz-bucket-object-lock-enabled": "False"},
        # Accepted, never forwarded: the store decides without a bypass.
        {"x-amz-bypass-governance-retention": "true"},
    ],
)
def test_requests_without_lock_pass(headers: dict[str, str]) -> None:
    refuse_lock_headers(headers)


def test_the_stores_lock_is_read_through() -> None:
    lock = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
    }
    head = ObjectHead(3, '"e"', datetime(2026, 1, 1, tzinfo=UTC), object_lock=lock)
    out = object_headers(head)
    assert {k: out[k] for k in lock} == lock
    assert not any(
        k.startswith("x-amz-object-lock")
        for k in object_headers(ObjectHead(3, '"e"', datetime(2026, 1, 1, tzinfo=UTC)))
    )
