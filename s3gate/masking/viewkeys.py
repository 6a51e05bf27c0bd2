"""The view index's key layout: where a view is, and what its key says.

Every view is an object in the viewed object's bucket under the gateway's
internal prefix, which no client can address or list:

    .s3gate/views/<family>/<key>/<version>/<md5>-<length>

- `family`: a digest of the masking profiles (their digests cover the rules
  *and* the token keys), the engine's output version and the masking limits —
  everything besides the stored bytes that decides the view's bytes;
- `version`: the stored object's ETag and a digest of the metadata that steers
  masking (content type and encoding);
- `<md5>-<length>`: the view's own MD5 (its ETag) and size, in the key, so that
  a listing learns them with one upstream LIST for a whole page of keys
  (`handlers.masked_listing`, `masking.viewscan`) instead of a request per key.

Keys too long for the layout (over 1024 bytes with it) use
`.s3gate/views/<family>.h/<sha256 of key>/…`; listings find those per key.
Pure functions of their arguments: no I/O here (`masking.views` does that).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from s3gate.s3.model import Metadata
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits

ROOT = ".s3gate/views/"
# Bump when the engine's output for the same input and profiles changes.
ENGINE_OUTPUT = "1"
MAX_KEY_BYTES = 1024
_PLAIN_ETAG = re.compile(r"[0-9A-Za-z-]{1,64}")
TAIL = re.compile(r"([0-9a-f]{32})-([0-9]{1,19})")


@dataclass(frozen=True)
class ViewRef:
    """Where a view is and what it is (from its key alone)."""

    store_key: str
    length: int
    etag: str  # quoted MD5 of the view's bytes


@dataclass(frozen=True)
class Entry:
    key: str  # the object's key ("" for hashed folders)
    version: str
    ref: ViewRef


def building_id(bucket: str, fam: str, key: str, ver: str) -> str:
    """One view being built on this replica (concurrent readers share it)."""
    return f"{bucket}/{folder(fam, key)}{ver}"


def family(profiles: Sequence[Profile], limits: Limits) -> str:
    parts = {
        "engine": ENGINE_OUTPUT,
        "profiles": sorted(p.digest for p in profiles),
        "limits": [limits.max_record_bytes, limits.max_document_bytes, limits.block_bytes],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def version(etag: str, metadata: Metadata) -> str:
    bare = etag.strip('"')
    if not _PLAIN_ETAG.fullmatch(bare):
        bare = hashlib.sha256(bare.encode()).hexdigest()[:32]
    steer = f"{metadata.get('content-type', '')}\n{metadata.get('content-encoding', '')}"
    return f"{bare}.{hashlib.sha256(steer.encode()).hexdigest()[:8]}"


def folder(fam: str, key: str) -> str:
    """The folder of every view of `key` in family `fam`."""
    direct = f"{ROOT}{fam}/{key}/"
    # version (≤ 73) + "/" + md5 (32) + "-" + length (≤ 19)
    if len(direct.encode()) + 126 <= MAX_KEY_BYTES:
        return direct
    return f"{ROOT}{fam}.h/{hashlib.sha256(key.encode()).hexdigest()}/"


def parse(store_key: str, fam: str) -> Entry | None:
    """A view's key in family `fam`'s direct layout, read back."""
    base = f"{ROOT}{fam}/"
    if not store_key.startswith(base):
        return None
    parts = store_key[len(base) :].rsplit("/", 2)
    if len(parts) != 3:
        return None
    key, ver, tail = parts
    match = TAIL.fullmatch(tail)
    if match is None or not key:
        return None
    return Entry(key, ver, ViewRef(store_key, int(match.group(2)), f'"{match.group(1)}"'))
