"""Listing positions that reveal nothing: sealed continuation tokens.

A listing page may end on a key the caller is not allowed to see (policy
filters it out). Resuming must still start *after* that key — otherwise a page
of hidden keys would be fetched forever — but its name must not leak through
`NextContinuationToken`, `NextMarker` or `NextKeyMarker`. So positions are
sealed with AES-GCM under a key shared by the replicas (its id in the clear,
for rotation), bound to the bucket (a token from one bucket is useless in
another).

ListObjects v1 clients pass `NextMarker` back as `marker`; when the position
is a key the caller can see, v1 gets the plain key (what S3 does), otherwise a
sealed token, which `open_marker` recognises by its prefix.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors

PREFIX = "s3g2-"
_NONCE = 12


class ListTokens:
    """Seals with the active key; opens with any key of the ring (rotation:
    tokens handed out before a key change keep working while it is listed)."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    @classmethod
    def from_ring(cls, ring: tuple[Mapping[str, bytes], str] | None) -> ListTokens:
        """Keys shared by the replicas (`identity.sharedkeys`), or without
        them a key of this process only."""
        return cls.ephemeral() if ring is None else cls(*ring)

    @classmethod
    def ephemeral(cls) -> ListTokens:
        """A key of this process only: tokens do not survive a restart or move
        between replicas (used when no shared key is configured)."""
        return cls({"local": AESGCM.generate_key(bit_length=256)}, "local")

    def seal(self, bucket: str, after: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[self._active].encrypt(nonce, after.encode(), bucket.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self._active}.{body}"

    def open(self, bucket: str, token: str) -> str:
        """The position inside `token`; InvalidArgument if it is not ours."""
        kid, _, body = token[len(PREFIX) :].partition(".")
        aead = self._aeads.get(kid) if token.startswith(PREFIX) else None
        if aead is None or not body:
            raise errors.InvalidArgument("The continuation token provided is incorrect")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            after = aead.decrypt(raw[:_NONCE], raw[_NONCE:], bucket.encode())
            return after.decode()
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError) as exc:
            raise errors.InvalidArgument("The continuation token provided is incorrect") from exc

    def open_marker(self, bucket: str, marker: str) -> str:
        """A v1 `marker`/`key-marker`: a plain key, or a token we sealed."""
        if marker.startswith(PREFIX):
            try:
                return self.open(bucket, marker)
            except errors.InvalidArgument:
                return marker  # a real key that merely looks like a token
        return marker
