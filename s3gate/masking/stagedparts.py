"""Staged parts of masked multipart uploads: where they wait, sealed, until
Complete masks them as one object — so that any replica can serve any step.

A multipart upload under a `@mask` obligation is masked as *one* object at
Complete (records that span parts included), so its parts wait — encrypted
(`masking.sealed`) under a key every replica derives from the shared secret —
in an internal prefix of the target bucket that no client can address:

    <bucket>/.s3gate/mpu/<id>/meta            the upload: key, metadata, profiles
    <bucket>/.s3gate/mpu/<id>/index           its key and start, for ListMultipartUploads
    <bucket>/.s3gate/mpu/<id>/part-00001      a part, sealed
    <bucket>/.s3gate/mpu/<id>/etag-00001-<sealed>-<size>   its ETag and size (empty)
    <bucket>/.s3gate/mpu/<id>/lease-00000     who is completing it (`completions`)
    <bucket>/.s3gate/mpu/<id>/done            how its completion ended (`completions`)

The upload id the client sees (`s3gm-…`) is sealed too: it names the bucket,
key and staging id, so a forged or moved id opens nothing. The store never
receives an unmasked part in the clear; the target key receives only the
masked whole. A part's ETag is the MD5 of its plaintext (what S3 would
answer, and what clients send back at Complete), so it is a hash of unmasked
content: the marker carries it sealed (AES-GCM under the upload's key, bound
to the upload, part number and size), never in the clear. Abort removes
the staging, and `sweep` removes uploads older than the expiry (every
replica may sweep; deletes are idempotent).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors
from s3gate.masking import sealed
from s3gate.s3.model import Metadata, PartInfo, PartsPage, UploadInfo
from s3gate.upstream.base import Body, Upstream
from s3gate.upstream.purge import purge

PREFIX = ".s3gate/mpu/"
ID_PREFIX = "s3gm-"
MIN_PART = 5 * 1024 * 1024
MARKER = "etag-"
INDEX = "index"
MAX_INDEX_BYTES = 8192
_LEGACY_ETAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class StagedUpload:
    bucket: str
    key: str
    staging_id: str
    created: float
    kid: str  # the key that sealed the id and seals the parts

    @property
    def folder(self) -> str:
        return f"{PREFIX}{self.staging_id}/"


@dataclass(frozen=True)
class StagedPart:
    number: int
    etag: str  # quoted MD5 of the plaintext part, as S3 would give it
    size: int
    marker: str  # the marker object's key
    last_modified: datetime


class PartStore:
    """Seals new uploads with the active key; any key of the ring opens, so an
    upload started before a key rotation completes after it."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active: str,
        expiry_seconds: int,
    ) -> None:
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active
        self.expiry_seconds = expiry_seconds

    # -- upload ids -------------------------------------------------------------------

    def is_staged(self, upload_id: str) -> bool:
        return upload_id.startswith(ID_PREFIX)

    def _seal_id(self, upload: StagedUpload) -> str:
        plain = json.dumps([upload.staging_id, upload.created]).encode()
        # The same id every time it is shown (at create and in every listing),
        # so clients can compare the ids they hold with listed ones. The nonce
        # is derived from the staging id, and one staging id only ever seals
        # this one plaintext, so no nonce is reused for another message.
        nonce = hashlib.sha256(b"s3gate upload id nonce\x00" + plain).digest()[:12]
        aead = self._aeads[upload.kid]
        blob = nonce + aead.encrypt(nonce, plain, _where(upload.bucket, upload.key))
        return f"{ID_PREFIX}{upload.kid}.{base64.urlsafe_b64encode(blob).decode().rstrip('=')}"

    def open_id(self, bucket: str, key: str, upload_id: str) -> StagedUpload:
        kid, _, body = upload_id[len(ID_PREFIX) :].partition(".")
        aead = self._aeads.get(kid)
        if aead is None or not body:
            raise errors.NoSuchUpload()
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = aead.decrypt(blob[:12], blob[12:], _where(bucket, key))
            staging_id, created = json.loads(plain)
        except (binascii.Error, ValueError, InvalidTag, TypeError) as exc:
            raise errors.NoSuchUpload() from exc
        if time.time() - float(created) > self.expiry_seconds:
            raise errors.NoSuchUpload()
        return StagedUpload(bucket, key, str(staging_id), float(created), kid)

    # -- the steps --------------------------------------------------------------------

    async def create(
        self, upstream: Upstream, bucket: str, key: str, metadata: Metadata, masks: Sequence[str]
    ) -> str:
        upload = StagedUpload(bucket, key, os.urandom(16).hex(), time.time(), self._active)
        meta = json.dumps({"metadata": dict(metadata), "masks": list(masks)}).encode()
        # The index: the key and start, sealed with a context that does not
        # name the key, so a listing can read it back (the meta's needs it).
        index = json.dumps([key, upload.created]).encode()
        nonce = os.urandom(12)
        box = self._aeads[upload.kid].encrypt(nonce, index, _index_context(bucket, upload))
        sealed_index = upload.kid.encode() + b"." + base64.urlsafe_b64encode(nonce + box)
        # Both at once: a client waits for its CreateMultipartUpload on them.
        await asyncio.gather(
            self._put_sealed(upstream, upload, "meta", Body.of(meta).chunks, len(meta)),
            upstream.put_object(bucket, upload.folder + INDEX, Body.of(sealed_index), {}),
        )
        return self._seal_id(upload)

    async def listed(self, upstream: Upstream, bucket: str) -> list[UploadInfo]:
        """The bucket's staged uploads in progress, as ListMultipartUploads
        shows them (the ids the client was given). Each folder's `index` (the
        key, sealed without the key as context, so it can be read back without
        it) is read; folders without one — completed, aborted, or begun before
        indexes existed — are not listed (the last still complete and expire).
        One LIST of the folders plus one GET per upload in progress."""
        found: list[UploadInfo] = []
        after: str | None = None
        while True:
            page = await upstream.list_objects(bucket, prefix=PREFIX, delimiter="/", after=after)
            for folder in page.common_prefixes:
                info = await self._read_index(upstream, bucket, folder)
                if info is not None:
                    found.append(info)
            if not page.is_truncated:
                return found
            after = page.next_after

    async def _read_index(self, upstream: Upstream, bucket: str, folder: str) -> UploadInfo | None:
        staging_id = folder[len(PREFIX) :].rstrip("/")
        try:
            stream = await upstream.get_object(bucket, folder + INDEX)
        except errors.NoSuchKey:
            return None
        data = b""
        try:
            async for piece in stream.body:
                data += piece
                if len(data) > MAX_INDEX_BYTES:
                    return None
        finally:
            await stream.aclose()
        kid_raw, _, body = data.partition(b".")
        kid = kid_raw.decode("ascii", "replace")
        aead = self._aeads.get(kid)
        if aead is None:
            return None
        upload = StagedUpload(bucket, "", staging_id, 0.0, kid)
        try:
            blob = base64.urlsafe_b64decode(body)
            key, created = json.loads(
                aead.decrypt(blob[:12], blob[12:], _index_context(bucket, upload))
            )
            upload = replace(upload, key=str(key), created=float(created))
        except (binascii.Error, ValueError, InvalidTag, TypeError):
            return None  # not one we sealed: never listed
        if time.time() - upload.created > self.expiry_seconds:
            return None
        return UploadInfo(
            upload.key, self._seal_id(upload), datetime.fromtimestamp(upload.created, UTC)
        )

    async def meta(
        self, upstream: Upstream, upload: StagedUpload
    ) -> tuple[dict[str, str], list[str]]:
        pieces = [p async for p in self._get_sealed(upstream, upload, "meta")]
        try:
            data = json.loads(b"".join(pieces))
        except ValueError as exc:
            raise errors.NoSuchUpload() from exc
        return dict(data["metadata"]), list(data["masks"])

    async def upload_part(
        self, upstream: Upstream, upload: StagedUpload, number: int, body: Body
    ) -> str:
        await self.meta(upstream, upload)  # NoSuchUpload after abort or completion
        md5 = hashlib.md5()  # noqa: S324 - S3's part ETag, not a security use

        async def counted() -> AsyncIterator[bytes]:
            async for piece in body.chunks:
                md5.update(piece)
                yield piece

        name = f"part-{number:05d}"
        await self._put_sealed(upstream, upload, name, counted(), body.length)
        etag = md5.hexdigest()
        marker = self._marker_key(upload, number, md5.digest(), body.length)
        await upstream.put_object(upload.bucket, marker, Body.of(b""), {})
        # A re-uploaded part: the markers of earlier uploads of it go.
        for old in await self._markers(upstream, upload, number):
            if old.marker != marker:
                await purge(upstream, upload.bucket, [old.marker])
        return f'"{etag}"'

    async def list_parts(
        self, upstream: Upstream, upload: StagedUpload, max_parts: int, marker: int
    ) -> PartsPage:
        await self.meta(upstream, upload)
        parts = [p for p in await self._parts(upstream, upload) if p.number > marker]
        page = parts[:max_parts]
        truncated = len(parts) > max_parts
        return PartsPage(
            [PartInfo(p.number, p.etag, p.size, p.last_modified) for p in page],
            truncated,
            page[-1].number if truncated and page else None,
        )

    async def plaintext(
        self, upstream: Upstream, upload: StagedUpload, wanted: list[tuple[int, str]]
    ) -> tuple[AsyncIterator[bytes], int]:
        """Validate the client's part list as S3 does; the parts' plaintext
        in order, and its total length."""
        have = {p.number: p for p in await self._parts(upstream, upload)}
        numbers = [n for n, _ in wanted]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise errors.InvalidPartOrder()
        chosen = []
        for i, (number, etag) in enumerate(wanted):
            part = have.get(number)
            if part is None or part.etag.strip('"') != etag.strip('"'):
                raise errors.InvalidPart(extra={"PartNumber": str(number)})
            if i < len(wanted) - 1 and part.size < MIN_PART:
                raise errors.EntityTooSmall(extra={"PartNumber": str(number)})
            chosen.append(part)

        async def stream() -> AsyncIterator[bytes]:
            for part in chosen:
                async for piece in self._get_sealed(upstream, upload, f"part-{part.number:05d}"):
                    yield piece

        return stream(), sum(p.size for p in chosen)

    async def discard(self, upstream: Upstream, upload: StagedUpload) -> None:
        await _delete_prefix(upstream, upload.bucket, upload.folder)

    async def sweep(self, upstream: Upstream) -> int:
        """Remove staged uploads older than the expiry, in every bucket."""
        removed = 0
        cutoff = time.time() - self.expiry_seconds
        for bucket in await upstream.list_buckets():
            try:
                page = await upstream.list_objects(bucket.name, prefix=PREFIX, delimiter="/")
            except errors.S3Error:
                continue
            for folder in page.common_prefixes:
                meta = await upstream.list_objects(bucket.name, prefix=folder + "meta", max_keys=1)
                if not meta.contents:  # completed: its answer is kept as long
                    meta = await upstream.list_objects(
                        bucket.name, prefix=folder + "done", max_keys=1
                    )
                stamp = meta.contents[0].last_modified.timestamp() if meta.contents else 0.0
                if stamp < cutoff:
                    await _delete_prefix(upstream, bucket.name, folder)
                    removed += 1
        return removed

    # -- storage ----------------------------------------------------------------------

    async def _put_sealed(
        self,
        upstream: Upstream,
        upload: StagedUpload,
        name: str,
        chunks: AsyncIterator[bytes],
        length: int,
    ) -> None:
        context = _context(upload, name)
        aead = self._aeads[upload.kid]
        body = Body(sealed.seal(aead, context, chunks, length), sealed.sealed_length(length))
        await upstream.put_object(upload.bucket, upload.folder + name, body, {})

    async def _get_sealed(
        self, upstream: Upstream, upload: StagedUpload, name: str
    ) -> AsyncIterator[bytes]:
        try:
            stream = await upstream.get_object(upload.bucket, upload.folder + name)
        except errors.NoSuchKey as exc:
            raise errors.NoSuchUpload() from exc
        try:
            async for piece in sealed.open_sealed(
                self._aeads[upload.kid], _context(upload, name), stream.body, stream.content_length
            ):
                yield piece
        finally:
            await stream.aclose()

    async def _markers(
        self, upstream: Upstream, upload: StagedUpload, number: int | None = None
    ) -> list[StagedPart]:
        """Every part marker (of one part number, if given), in key order."""
        prefix = upload.folder + (MARKER if number is None else f"{MARKER}{number:05d}-")
        found: list[StagedPart] = []
        after: str | None = None
        while True:
            page = await upstream.list_objects(upload.bucket, prefix=prefix, after=after)
            for obj in page.contents:
                parsed = self._open_marker(upload, obj.key[len(upload.folder) :])
                if parsed is None:  # not one we wrote for this upload: ignore it
                    continue
                num, etag, size = parsed
                found.append(StagedPart(num, f'"{etag}"', size, obj.key, obj.last_modified))
            if not page.is_truncated:
                return found
            after = page.next_after

    def _marker_key(self, upload: StagedUpload, number: int, md5: bytes, size: int) -> str:
        nonce = os.urandom(12)
        blob = nonce + self._aeads[upload.kid].encrypt(
            nonce, md5, _context(upload, f"{MARKER}{number:05d}-{size}")
        )
        sealed_etag = base64.urlsafe_b64encode(blob).decode().rstrip("=")
        return f"{upload.folder}{MARKER}{number:05d}-{sealed_etag}-{size}"

    def _open_marker(self, upload: StagedUpload, name: str) -> tuple[int, str, int] | None:
        """(part number, ETag hex, size) of a marker name, or None if it is
        not a marker sealed for this upload."""
        num, _, rest = name[len(MARKER) :].partition("-")
        sealed_etag, _, size = rest.rpartition("-")
        if not (num.isdigit() and size.isdigit() and sealed_etag):
            return None
        if _LEGACY_ETAG.match(sealed_etag):
            # Written in the clear before markers were sealed: an upload begun
            # before the upgrade still completes (it expires like any other).
            return int(num), sealed_etag, int(size)
        try:
            blob = base64.urlsafe_b64decode(sealed_etag + "=" * (-len(sealed_etag) % 4))
            md5 = self._aeads[upload.kid].decrypt(
                blob[:12], blob[12:], _context(upload, f"{MARKER}{num}-{size}")
            )
        except (binascii.Error, ValueError, InvalidTag):
            return None
        return int(num), md5.hex(), int(size)

    async def _parts(self, upstream: Upstream, upload: StagedUpload) -> list[StagedPart]:
        """The newest marker of each part number, by part number."""
        newest: dict[int, StagedPart] = {}
        for part in await self._markers(upstream, upload):
            old = newest.get(part.number)
            if old is None or old.last_modified <= part.last_modified:
                newest[part.number] = part
        return [newest[n] for n in sorted(newest)]


def _index_context(bucket: str, upload: StagedUpload) -> bytes:
    return json.dumps([bucket, upload.staging_id, INDEX]).encode()


def _where(bucket: str, key: str) -> bytes:
    return json.dumps([bucket, key]).encode()


def _context(upload: StagedUpload, name: str) -> bytes:
    return json.dumps([upload.bucket, upload.key, upload.staging_id, name]).encode()


async def _delete_prefix(upstream: Upstream, bucket: str, prefix: str) -> None:
    while True:
        page = await upstream.list_objects(bucket, prefix=prefix)
        keys = [o.key for o in page.contents]
        if keys:
            await purge(upstream, bucket, keys)
        if not page.is_truncated or not keys:
            return
