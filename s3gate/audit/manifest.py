"""Manifests: the signed, chained seal over each batch (or heartbeat).

A manifest is a canonical JSON object (see `canonical`):

    schema            "s3gate.audit.manifest/1"
    replica_id        the replica whose chain this is
    sequence          1, 2, 3 … per replica, no gaps
    kind              "batch" (one batch object) or "heartbeat" (none)
    final             true on the last manifest of a clean shutdown
    objects           [{key, sha256, size, events, format}] (format "jsonl+gzip")
    event_count       events in the objects (0 for a heartbeat)
    first_event_time  earliest event time, null when no events
    last_event_time   latest event time, null when no events
    first_event_id    id of the first event in the batch, null when none
    last_event_id     id of the last event in the batch, null when none
    previous          null for sequence 1, else {sequence, key, sha256, signature}
                      of the manifest before it (sha256 of its stored bytes)
    key_id            kid of the signing key
    signed_at         when it was signed
    signature         base64 (RFC 4648, padded) Ed25519 signature over the
                      canonical encoding of this object without `signature`

The stored object is exactly the canonical encoding of the whole object
(signature included), so its SHA-256 is well defined for the next link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from s3gate.audit import canonical
from s3gate.audit.keys import PublicKey, SigningKey

SCHEMA = "s3gate.audit.manifest/1"
BATCH_FORMAT = "jsonl+gzip"


@dataclass(frozen=True)
class ObjectRef:
    key: str
    sha256: str
    size: int
    events: int

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "events": self.events,
            "format": BATCH_FORMAT,
        }


@dataclass(frozen=True)
class Link:
    """What a manifest records about its predecessor."""

    sequence: int
    key: str
    sha256: str
    signature: str

    def as_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "key": self.key,
            "sha256": self.sha256,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class BatchSummary:
    events: int
    first_time: str | None
    last_time: str | None
    first_id: str | None
    last_id: str | None


def signing_input(document: dict[str, Any]) -> bytes:
    """The bytes the signature covers: the manifest without `signature`."""
    return canonical.encode({k: v for k, v in document.items() if k != "signature"})


def build(
    *,
    replica_id: str,
    sequence: int,
    batch: ObjectRef | None,
    summary: BatchSummary,
    previous: Link | None,
    key: SigningKey,
    signed_at: datetime,
    final: bool = False,
) -> bytes:
    """The signed manifest's stored bytes."""
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "replica_id": replica_id,
        "sequence": sequence,
        "kind": "batch" if batch is not None else "heartbeat",
        "final": final,
        "objects": [] if batch is None else [batch.as_json()],
        "event_count": summary.events,
        "first_event_time": summary.first_time,
        "last_event_time": summary.last_time,
        "first_event_id": summary.first_id,
        "last_event_id": summary.last_id,
        "previous": None if previous is None else previous.as_json(),
        "key_id": key.kid,
        "signed_at": canonical.format_time(signed_at),
    }
    document["signature"] = base64.b64encode(key.sign(signing_input(document))).decode()
    return canonical.encode(document)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def link_to(data: bytes, document: dict[str, Any], key: str) -> Link:
    """The link a successor records for the manifest stored as `data`."""
    return Link(document["sequence"], key, digest(data), document["signature"])


def check_signature(document: dict[str, Any], trusted: dict[str, PublicKey]) -> str | None:
    """None if the signature verifies under a trusted key, else the problem.

    The problem text starts with "unknown key" when the manifest names a key
    that is not trusted (re-signed or forged), and with "bad signature" when
    the key is trusted but the signature does not match the content."""
    kid = document.get("key_id")
    key = trusted.get(kid) if isinstance(kid, str) else None
    if key is None:
        return f"unknown key: signed with key id {kid!r}, which is not trusted"
    try:
        signature = base64.b64decode(document.get("signature", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        return "bad signature: not base64"
    if not key.verify(signature, signing_input(document)):
        return f"bad signature: does not verify under key {kid}"
    return None


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "schema": str,
    "replica_id": str,
    "sequence": int,
    "kind": str,
    "final": bool,
    "objects": list,
    "event_count": int,
    "first_event_time": (str, type(None)),
    "last_event_time": (str, type(None)),
    "first_event_id": (str, type(None)),
    "last_event_id": (str, type(None)),
    "previous": (dict, type(None)),
    "key_id": str,
    "signed_at": str,
    "signature": str,
}
_OBJECT_FIELDS: dict[str, type] = {"key": str, "sha256": str, "size": int, "events": int}


def malformed(document: Any) -> str | None:
    """Why `document` is not a manifest of this schema, or None. Checked
    before anything else so a crafted object cannot upset the verifier."""
    if not isinstance(document, dict):
        return "not a JSON object"
    if document.get("schema") != SCHEMA:
        return f"schema is {document.get('schema')!r}"
    if set(document) != set(_FIELDS):
        return f"fields differ from the schema: {sorted(set(document) ^ set(_FIELDS))}"
    for name, kind in _FIELDS.items():
        if not isinstance(document[name], kind):
            return f"{name} has the wrong type"
    for ref in document["objects"]:
        if not isinstance(ref, dict) or any(
            not isinstance(ref.get(n), k) for n, k in _OBJECT_FIELDS.items()
        ):
            return "malformed entry in objects"
    previous = document["previous"]
    if previous is not None and not (
        isinstance(previous.get("sequence"), int)
        and all(isinstance(previous.get(n), str) for n in ("key", "sha256", "signature"))
    ):
        return "malformed previous link"
    try:
        canonical.parse_time(document["signed_at"])
    except ValueError:
        return "signed_at is not an audit time"
    return None
