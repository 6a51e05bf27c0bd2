"""Golden vectors for the canonical encoding, the event schema and manifest
signing: the bytes docs/audit.md promises, so third-party verifiers can be
written (and tested) from the documentation alone."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from s3gate.audit import canonical, manifest
from s3gate.audit.events import AuditEvent, MaskingSummary, PrincipalInfo
from s3gate.audit.keys import SigningKey

# The test key of docs/audit.md: the Ed25519 seed is the bytes 0x00..0x1f.
KEY = SigningKey.of(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
KID = "56475aa75463474c"
PUBLIC_X = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"

EVENT = (
    '{"bucket":"traces","bundle_hash":"' + "b" * 64 + '","bytes_in":0,"bytes_out":100,'
    '"decision":"allow","details":{},"duration_us":1234,"error_code":null,'
    '"id":"01234567-89ab-7def-8123-456789abcdef","key":"run-42/trace.jsonl",'
    '"masking":{"action":"rewrite","counts":{"api_key":1,"email":3},"profile":"analyst-view"},'
    '"obligations":["mask:analyst-view"],"operation":"GetObject","outcome":"masked",'
    '"parent_id":null,"policy_ids":["analysts-read"],"principal":{"access_key_id":'
    '"S3GSESSIONKEY0001","groups":["data","eng"],"issuer":"https://idp.example",'
    '"role":"analyst","session_name":"nb-1","source":"session","subject":"alice"},'
    '"range":"bytes=0-99","replica_id":"gw-0","request_id":"4F2A9C1B7E3D5A60",'
    '"schema":"s3gate.audit/1","sha256_received":null,"sha256_returned":"' + "c" * 64 + '",'
    '"sha256_stored":null,"source_ip":"10.0.0.7","status":206,'
    '"time":"2030-01-02T03:04:05.678901Z","type":"request","upstream_status":206,'
    '"user_agent":"aws-cli/2.15 \u00fc"}'
)
EVENT_SHA256 = "bb5554fd8d94697c17430685a32d9613c787d0f5574a6755430535efbb8c2f5d"

MANIFEST_SIGNATURE = (
    "jR7JK/kqEBH+6r2wv7tHRDXhIZWgGLDRiWi21WG+OzxdiphdG53v9+gUb702Afcrw6NrX/sAtewI1ZoI9ZIuCw=="
)
MANIFEST_SHA256 = "e7830ad9a89a3f97f849ac4cf46018705b2480837827321bed9c2a05d751edc9"


def golden_event() -> AuditEvent:
    return AuditEvent(
        type="request",
        time=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        id="01234567-89ab-7def-8123-456789abcdef",
        replica_id="gw-0",
        request_id="4F2A9C1B7E3D5A60",
        principal=PrincipalInfo(
            "alice",
            "S3GSESSIONKEY0001",
            "session",
            "https://idp.example",
            "analyst",
            ("eng", "data"),  # groups are sorted in the record
            "nb-1",
        ),
        source_ip="10.0.0.7",
        user_agent="aws-cli/2.15 \u00fc",
        operation="GetObject",
        bucket="traces",
        key="run-42/trace.jsonl",
        range="bytes=0-99",
        decision="allow",
        outcome="masked",
        policy_ids=("analysts-read",),
        bundle_hash="b" * 64,
        obligations=("mask:analyst-view",),
        masking=MaskingSummary("analyst-view", {"email": 3, "api_key": 1}, "rewrite"),
        bytes_in=0,
        bytes_out=100,
        sha256_returned="c" * 64,
        upstream_status=206,
        status=206,
        duration_us=1234,
    )


def golden_manifest() -> bytes:
    return manifest.build(
        replica_id="gw-0",
        sequence=2,
        batch=manifest.ObjectRef(
            "s3gate/v1/replicas/gw-0/batches/000000000002.jsonl.gz", "a" * 64, 1234, 2
        ),
        summary=manifest.BatchSummary(
            2,
            "2030-01-02T03:04:05.000000Z",
            "2030-01-02T03:04:06.500000Z",
            "01234567-89ab-7def-8123-456789abcdef",
            "01234567-89ab-7def-8123-456789abcdf0",
        ),
        previous=manifest.Link(
            1,
            "s3gate/v1/replicas/gw-0/manifests/000000000001.json",
            "d" * 64,
            "c2lnbmF0dXJlLW9mLW1hbmlmZXN0LTE=",
        ),
        key=KEY,
        signed_at=datetime(2030, 1, 2, 3, 4, 10, tzinfo=UTC),
    )


def test_key_id_and_jwk() -> None:
    assert KEY.kid == KID
    assert KEY.public.jwk() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": PUBLIC_X,
        "kid": KID,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert KEY.public.fingerprint.startswith(KID)


def test_event_golden_bytes() -> None:
    data = golden_event().encode()
    assert data == EVENT.encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == EVENT_SHA256
    assert AuditEvent.from_json(json.loads(data)).encode() == data  # round trip


def test_manifest_golden_bytes_and_signature() -> None:
    data = golden_manifest()
    assert hashlib.sha256(data).hexdigest() == MANIFEST_SHA256
    assert json.loads(data)["signature"] == MANIFEST_SIGNATURE
    assert manifest.check_signature(json.loads(data), {KID: KEY.public}) is None


def test_a_third_party_verifier_from_the_docs() -> None:
    """What docs/audit.md tells a third party to do, with only json and a
    generic Ed25519 implementation: no s3gate code involved."""
    data = golden_manifest()
    document = json.loads(data)
    # Stored bytes are the canonical form of the object.
    assert (
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        == data
    )
    signature = base64.b64decode(document.pop("signature"))
    signed = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = base64.urlsafe_b64decode(PUBLIC_X + "=")
    assert hashlib.sha256(raw).hexdigest()[:16] == document["key_id"]
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, signed.encode())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, None, "x"]}, b'{"a":[true,null,"x"],"b":1}'),
        ({"s": 'q"\\\n\t\x01\x7f/é€😀'}, '{"s":"q\\"\\\\\\n\\t\\u0001\x7f/é€😀"}'.encode()),
        ({"z": {}, "Z": [], "é": 0, "e": -5}, '{"Z":[],"e":-5,"z":{},"é":0}'.encode()),
    ],
)
def test_canonical_encoding(value: object, expected: bytes) -> None:
    assert canonical.encode(value) == expected
    assert canonical.decode(expected) == value


@pytest.mark.parametrize("bad", [1.5, float("nan"), {"a": 1.0}, {1: "a"}, b"bytes", "\ud800"])
def test_canonical_refuses_what_has_no_single_spelling(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical.encode(bad)


@pytest.mark.parametrize(
    "text",
    [b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1.0}', b'{"a":1,"a":1}', b'{"a":"\\u0041"}', b"\xff"],
)
def test_canonical_decode_refuses_other_spellings(text: bytes) -> None:
    with pytest.raises(ValueError):
        canonical.decode(text)


def test_times_are_fixed_width_utc() -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert canonical.format_time(moment) == "2030-01-02T03:04:05.000000Z"
    assert canonical.parse_time("2030-01-02T03:04:05.000000Z") == moment
    with pytest.raises(ValueError):
        canonical.format_time(datetime(2030, 1, 2))  # naive
