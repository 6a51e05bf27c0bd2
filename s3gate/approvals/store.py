"""Holds in the store, under the internal prefix of the target bucket:

    <bucket>/.s3gate/approvals/<id>/content   the quarantined bytes, sealed (AEAD stream)
    <bucket>/.s3gate/approvals/<id>/request   the immutable request, sealed JSON
    <bucket>/.s3gate/approvals/<id>/state     the mutable state, sealed JSON

No client can address `.s3gate/` (built-in policy guard), so only the gateway
reads these. Everything is sealed with a key every replica derives from the
shared session secret (approvals.keys.approval_keys), bound to its bucket, id and
name, so an object moved, swapped or edited in the store fails to open.

The request and content are written once (If-None-Match: *); the state is
replaced only by compare-and-swap (If-Match: <etag of the state read>), so two
replicas acting at once cannot both win a transition: the loser re-reads.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors
from s3gate.approvals.model import HoldRequest, HoldState
from s3gate.masking import sealed
from s3gate.s3.model import Conditions
from s3gate.upstream.base import Body, Upstream
from s3gate.upstream.purge import purge

PREFIX = ".s3gate/approvals/"
_CREATE = Conditions(if_none_match="*")
MAX_JSON = 1024 * 1024


class HoldStore:
    def __init__(self, upstream: Upstream, keys: Mapping[str, bytes], active: str) -> None:
        self.upstream = upstream
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @staticmethod
    def folder(hold_id: str) -> str:
        return f"{PREFIX}{hold_id}/"

    # -- content ----------------------------------------------------------------------

    async def put_content(self, bucket: str, hold_id: str, body: Body) -> None:
        context = _context(bucket, hold_id, "content")
        sealed_body = Body(
            sealed.seal(self._aeads[self.active], context, body.chunks, body.length),
            sealed.sealed_length(body.length),
        )
        await self.upstream.put_object(
            bucket, self.folder(hold_id) + "content", sealed_body, {}, conditions=_CREATE
        )

    async def open_content(self, bucket: str, hold_id: str, kid: str) -> AsyncIterator[bytes]:
        aead = self._aeads.get(kid)
        if aead is None:
            raise errors.InternalError("The quarantine key is no longer configured")
        try:
            stream = await self.upstream.get_object(bucket, self.folder(hold_id) + "content")
        except errors.NoSuchKey as exc:
            raise errors.NoSuchHold() from exc
        try:
            async for piece in sealed.open_sealed(
                aead, _context(bucket, hold_id, "content"), stream.body, stream.content_length
            ):
                yield piece
        finally:
            await stream.aclose()

    # -- request and state ------------------------------------------------------------

    async def put_request(self, request: HoldRequest) -> None:
        data = self._seal(request.bucket, request.hold_id, "request", request.to_json())
        key = self.folder(request.hold_id) + "request"
        await self.upstream.put_object(request.bucket, key, Body.of(data), {}, conditions=_CREATE)

    async def request(self, bucket: str, hold_id: str) -> HoldRequest:
        data, _ = await self._get(bucket, hold_id, "request")
        return HoldRequest.from_json(self._open(bucket, hold_id, "request", data))

    async def create_state(self, bucket: str, hold_id: str, state: HoldState) -> None:
        data = self._seal(bucket, hold_id, "state", state.to_json())
        await self.upstream.put_object(
            bucket, self.folder(hold_id) + "state", Body.of(data), {}, conditions=_CREATE
        )

    async def state(self, bucket: str, hold_id: str) -> tuple[HoldState, str]:
        """The state and the ETag to swap it against."""
        data, etag = await self._get(bucket, hold_id, "state")
        return HoldState.from_json(self._open(bucket, hold_id, "state", data)), etag

    async def swap_state(self, bucket: str, hold_id: str, state: HoldState, etag: str) -> None:
        """Replace the state if it is still `etag`; HoldChanged if another
        replica changed it first (the caller re-reads and decides again)."""
        data = self._seal(bucket, hold_id, "state", state.to_json())
        try:
            await self.upstream.put_object(
                bucket,
                self.folder(hold_id) + "state",
                Body.of(data),
                {},
                conditions=Conditions(if_match=etag),
            )
        except (errors.PreconditionFailed, errors.NoSuchKey) as exc:
            raise errors.HoldChanged("The hold was changed by someone else; try again") from exc
        except errors.UpstreamError as exc:
            if exc.error_code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise errors.HoldChanged("The hold was changed by someone else; try again") from exc
            raise

    async def destroy(self, bucket: str, hold_id: str, *, keep_state: bool = False) -> None:
        """Remove the quarantined bytes and the request (and the state unless
        kept); idempotent."""
        names = ["content", "request"] + ([] if keep_state else ["state"])
        # Every version: on a versioned bucket a plain delete keeps the bytes.
        await purge(self.upstream, bucket, [self.folder(hold_id) + n for n in names])

    # -- finding holds ----------------------------------------------------------------

    async def locate(self, hold_id: str) -> str:
        """The bucket holding `hold_id` (ids carry no bucket: they are quoted
        to agents and approvers, and a bucket name is not theirs to learn)."""
        if not _valid_id(hold_id):
            raise errors.NoSuchHold()
        for bucket in await self.upstream.list_buckets():
            try:
                await self.upstream.head_object(bucket.name, self.folder(hold_id) + "state")
            except (errors.NoSuchKey, errors.NoSuchBucket):
                continue
            except errors.UpstreamError as exc:
                if exc.http_status in (403, 404):
                    continue
                raise
            return bucket.name
        raise errors.NoSuchHold()

    async def all_ids(self) -> list[tuple[str, str]]:
        """(bucket, id) of every hold in every bucket."""
        found: list[tuple[str, str]] = []
        for bucket in await self.upstream.list_buckets():
            after: str | None = None
            while True:
                try:
                    page = await self.upstream.list_objects(
                        bucket.name, prefix=PREFIX, delimiter="/", after=after
                    )
                except errors.S3Error:
                    break
                for folder in page.common_prefixes:
                    found.append((bucket.name, folder[len(PREFIX) :].rstrip("/")))
                if not page.is_truncated:
                    break
                after = page.next_after
        return found

    # -- sealing ----------------------------------------------------------------------

    def _seal(self, bucket: str, hold_id: str, name: str, value: Mapping[str, Any]) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(value, separators=(",", ":")).encode()
        blob = self._aeads[self.active].encrypt(nonce, plain, _context(bucket, hold_id, name))
        envelope = {"kid": self.active, "blob": base64.b64encode(nonce + blob).decode()}
        return json.dumps(envelope).encode()

    def _open(self, bucket: str, hold_id: str, name: str, data: bytes) -> Any:
        try:
            envelope = json.loads(data)
            aead = self._aeads[str(envelope["kid"])]
            blob = base64.b64decode(envelope["blob"])
            plain = aead.decrypt(blob[:12], blob[12:], _context(bucket, hold_id, name))
            return json.loads(plain)
        except (ValueError, KeyError, TypeError, InvalidTag) as exc:
            raise errors.InternalError(f"The hold's {name} failed its integrity check") from exc

    async def _get(self, bucket: str, hold_id: str, name: str) -> tuple[bytes, str]:
        try:
            stream = await self.upstream.get_object(bucket, self.folder(hold_id) + name)
        except errors.NoSuchKey as exc:
            raise errors.NoSuchHold() from exc
        try:
            if stream.content_length > MAX_JSON:
                raise errors.InternalError(f"The hold's {name} is too large")
            data = b"".join([piece async for piece in stream.body])
        finally:
            await stream.aclose()
        return data, stream.head.etag


def _context(bucket: str, hold_id: str, name: str) -> bytes:
    return json.dumps(["s3gate-approval", bucket, hold_id, name]).encode()


def _valid_id(hold_id: str) -> bool:
    return len(hold_id) == 24 and all(c in "0123456789abcdef" for c in hold_id)
