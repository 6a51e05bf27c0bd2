"""What a writer sent, shown back only to that writer: the sources index.

A masked write stores bytes that differ from the ones the client sent, so a
sync client (`aws s3 sync`, `rclone sync --checksum`) that compares its local
file with the listing sees another size (and MD5) and uploads again, every
run. The sent size and MD5 are derived from unmasked bytes: shown to anyone
else they would tell how much masking removed (invariant 9). Shown to the
principal that sent those very bytes they tell it nothing it has not seen.

So each masked write that changed the bytes leaves an empty marker in the
object's bucket, under the internal prefix no client can address or list:

    .s3gate/sources/<writer>/<key>/<stored etag>/<sealed md5 and length>

- `writer`: a keyed digest (HMAC-SHA256) of the principal's stable identity
  (source, issuer, subject, role — not its access key, which every STS
  session changes), so the store learns nobody's name and cannot tell
  which markers are whose by guessing;
- `stored etag`: the stored object's ETag when the marker was written — a
  marker is used only while the object still has that ETag, so an object
  changed since (around the gateway, by another writer) shows its stored
  figures;
- the sent MD5 and length, AES-GCM-sealed and bound to the bucket, writer,
  key and stored ETag: they are a hash of unmasked content, so the store
  keeps them only sealed, as it keeps staged parts' ETags (`stagedparts`).

Keys too long for the layout use `<writer>.h/<sha256 of key>/`, looked up one
LIST each. A listing of a page by a principal that may list but not read the
keys reads this writer's range of the index in one LIST (`lookup`).
Writing a marker is best effort: failing costs one re-upload, never the write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import struct
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors
from s3gate.digests import OffloadedDigests
from s3gate.identity.principal import Principal
from s3gate.identity.sharedkeys import derive_key
from s3gate.masking import viewprune, viewscan
from s3gate.s3.model import ObjectInfo
from s3gate.upstream.base import Body, Upstream

log = logging.getLogger("s3gate.masking")
ROOT = ".s3gate/sources/"
MAX_KEY_BYTES = 1024
# The sealed tail: nonce (12) + md5 (16) + length (8) + tag (16), base64url.
_TAIL_CHARS = 70
# The stored ETag in a marker's key (longer or odd ones are hashed).
_PLAIN_ETAG = re.compile(r"[0-9A-Za-z-]{1,64}")
_TAIL = re.compile(r"[A-Za-z0-9_-]{70}")


@dataclass(frozen=True)
class Sent:
    """What the client sent: the figures its own sync client compares."""

    md5_hex: str
    length: int

    @property
    def etag(self) -> str:
        return f'"{self.md5_hex}"'


class SentTap:
    """The MD5 and length of the bytes a masked write reads from its client,
    hashed off the loop (`digests`), as they pass to the masker."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._digests = OffloadedDigests([self._md5])
        self._length = 0
        self._done = False

    async def watch(self, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for piece in source:
            self._length += len(piece)
            await self._digests.feed(piece)
            yield piece
        await self._digests.finish()
        self._done = True

    def sent(self) -> Sent | None:
        """The figures, once the whole source was read (None before)."""
        return Sent(self._md5.hexdigest(), self._length) if self._done else None


def _etag_part(etag: str) -> str:
    bare = etag.strip('"')
    if _PLAIN_ETAG.fullmatch(bare):
        return bare
    return hashlib.sha256(bare.encode()).hexdigest()[:32]


class Sources:
    def __init__(self, secret: bytes, counts: Counter[str]) -> None:
        # Two keys from the replicas' shared secret (the staged uploads' key):
        # every replica names a writer alike and opens every marker.
        self._name_key = derive_key(secret, b"s3gate sources writers v1")
        self._aead = AESGCM(derive_key(secret, b"s3gate sources figures v1"))
        # Markers written, failed to write, and used by a listing (metrics).
        self.counts = counts

    def writer(self, principal: Principal) -> str:
        who = [principal.source, principal.issuer or "", principal.subject, principal.role or ""]
        mac = hmac.new(self._name_key, json.dumps(who).encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def folder(self, writer: str, key: str) -> str:
        direct = f"{ROOT}{writer}/{key}/"
        # etag (≤ 64) + "/" + sealed tail
        if len(direct.encode()) + 65 + _TAIL_CHARS <= MAX_KEY_BYTES:
            return direct
        return f"{ROOT}{writer}.h/{hashlib.sha256(key.encode()).hexdigest()}/"

    def _context(self, bucket: str, writer: str, key: str, etag_part: str) -> bytes:
        return json.dumps([bucket, writer, key, etag_part]).encode()

    def marker_key(self, bucket: str, writer: str, key: str, etag: str, sent: Sent) -> str:
        part = _etag_part(etag)
        nonce = os.urandom(12)
        plain = bytes.fromhex(sent.md5_hex) + struct.pack(">Q", sent.length)
        blob = nonce + self._aead.encrypt(nonce, plain, self._context(bucket, writer, key, part))
        tail = base64.urlsafe_b64encode(blob).decode().rstrip("=")
        return f"{self.folder(writer, key)}{part}/{tail}"

    def open(self, bucket: str, writer: str, key: str, etag: str, tail: str) -> Sent | None:
        """The figures of a marker's tail, if it was sealed for exactly this
        bucket, writer, key and stored ETag (anything else: None)."""
        if not _TAIL.fullmatch(tail):
            return None
        context = self._context(bucket, writer, key, _etag_part(etag))
        try:
            blob = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))
            plain = self._aead.decrypt(blob[:12], blob[12:], context)
        except (binascii.Error, ValueError, InvalidTag):
            return None
        if len(plain) != 24:
            return None
        (length,) = struct.unpack(">Q", plain[16:])
        return Sent(plain[:16].hex(), length)

    async def record(
        self,
        upstream: Upstream,
        bucket: str,
        principal: Principal,
        key: str,
        etag: str,
        sent: Sent,
    ) -> None:
        """Leave the marker of one masked write, and remove this writer's
        markers of the key's earlier stored versions (they can never match
        again). Best effort: a failure is logged and counted, never raised."""
        writer = self.writer(principal)
        marker = self.marker_key(bucket, writer, key, etag, sent)
        try:
            await upstream.put_object(bucket, marker, Body.of(b""), {})
        except errors.S3Error as exc:
            self.counts["sources_failed"] += 1
            log.warning("could not record a masked write's sources marker: %s", exc.code)
            return
        self.counts["sources_written"] += 1
        await viewprune.prune(upstream, bucket, self.folder(writer, key), keep=_etag_part(etag))

    async def lookup(
        self,
        upstream: Upstream,
        bucket: str,
        principal: Principal,
        objects: Sequence[ObjectInfo],
        max_calls: int = 1,
    ) -> dict[str, Sent]:
        """The sent figures of those of `objects` (a listing page's entries)
        that this principal wrote through the gateway and that still have the
        stored ETag its marker names: one LIST of this writer's range of the
        index for the whole page (`max_calls`), one more per long key."""
        writer = self.writer(principal)
        base = f"{ROOT}{writer}/"
        by_key = {o.key: o for o in objects}
        direct = [o.key for o in objects if self.folder(writer, o.key).startswith(base)]
        out: dict[str, Sent] = {}
        try:
            listed = await viewscan.scan_range(upstream, bucket, base, direct, max_calls)
            for obj in listed:
                parts = obj.key[len(base) :].rsplit("/", 2)
                if len(parts) == 3:
                    key, part, tail = parts
                    self._take(bucket, writer, by_key.get(key), part, tail, obj.size, out)
            for key in by_key.keys() - set(direct):
                where = self.folder(writer, key)
                part = _etag_part(by_key[key].etag)
                page = await upstream.list_objects(bucket, prefix=f"{where}{part}/", max_keys=10)
                for obj in page.contents:
                    rest = obj.key[len(where) + len(part) + 1 :]
                    self._take(bucket, writer, by_key[key], part, rest, obj.size, out)
        except errors.S3Error as exc:
            # Then the stored figures are shown: a re-upload, nothing worse.
            log.warning("could not read the sources index for a listing: %s", exc.code)
        self.counts["sources_used"] += len(out)
        return out

    def _take(
        self,
        bucket: str,
        writer: str,
        obj: ObjectInfo | None,
        part: str,
        tail: str,
        size: int,
        out: dict[str, Sent],
    ) -> None:
        """Keep a marker's figures if it names the listed object's ETag."""
        if obj is None or size != 0 or part != _etag_part(obj.etag):
            return
        sent = self.open(bucket, writer, obj.key, obj.etag, tail)
        if sent is not None:
            out[obj.key] = sent
