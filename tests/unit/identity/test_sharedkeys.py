"""Keys derived from the STS session keys: alike on every replica, one per
purpose, every listed key kept for rotation; a local key without them."""

from __future__ import annotations

import base64
import logging

import pytest

from s3gate.approvals.keys import approval_keys
from s3gate.identity.settings import IdentitySettings
from s3gate.identity.sharedkeys import (
    APPROVALS,
    LIST_TOKENS,
    STAGED_UPLOADS,
    shared_keys,
    shared_or_local,
)
from s3gate.masking.keys import staging_keys

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def _identity() -> IdentitySettings:
    return IdentitySettings(
        session_keys=[
            {"id": "old", "secret": {"value": K1}},
            {"id": "new", "secret": {"value": K2}},
        ],
        active_session_key="new",
    )


def test_replicas_derive_the_same_ring() -> None:
    a, b = shared_keys(_identity(), LIST_TOKENS), shared_keys(_identity(), LIST_TOKENS)
    assert a is not None and a == b
    keys, active = a
    assert active == "new"
    assert set(keys) == {"old", "new"}  # the old key still opens what it sealed
    assert keys["old"] != keys["new"]
    assert all(len(k) == 32 for k in keys.values())


@pytest.mark.parametrize(
    ("one", "other"),
    [(LIST_TOKENS, STAGED_UPLOADS), (LIST_TOKENS, APPROVALS), (STAGED_UPLOADS, APPROVALS)],
)
def test_each_purpose_has_its_own_keys(one: bytes, other: bytes) -> None:
    a, b = shared_keys(_identity(), one), shared_keys(_identity(), other)
    assert a is not None and b is not None
    assert a[0]["new"] != b[0]["new"]
    assert a[0]["new"] not in (K1.encode(), K2.encode(), b"2" * 32)  # never the raw secret


def test_the_subsystems_use_the_shared_ring() -> None:
    assert staging_keys(_identity()) == shared_keys(_identity(), STAGED_UPLOADS)
    assert approval_keys(_identity()) == shared_keys(_identity(), APPROVALS)


def test_without_session_keys_a_local_key_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert shared_keys(IdentitySettings(), LIST_TOKENS) is None
    with caplog.at_level(logging.WARNING, logger="s3gate"):
        keys, active = shared_or_local(IdentitySettings(), APPROVALS, "only here")
        again, _ = shared_or_local(IdentitySettings(), APPROVALS, "only here")
    assert active == "local" and len(keys["local"]) == 32
    assert again["local"] != keys["local"]  # random per call: a key of this process
    assert any("only here" in r.getMessage() for r in caplog.records)
