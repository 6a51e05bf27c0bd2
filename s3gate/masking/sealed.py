"""Streaming authenticated encryption for bytes parked in the store unmasked.

Parts of a masked multipart upload must wait, unmasked, until Complete masks
them as one object; they wait encrypted. Format: the plaintext cut into
records of RECORD bytes (the last may be shorter, possibly empty), each
written as nonce (12) || AES-GCM ciphertext+tag (len + 16). The associated
data binds each record to its stream (`context`: which upload and part), its
index and whether it is the last, so records cannot be swapped between
streams, reordered, dropped or truncated without failing to open.

The encrypted length is a function of the plaintext length alone, so an
encrypted stream can be uploaded with an exact Content-Length.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors

RECORD = 1024 * 1024
_NONCE = 12
_TAG = 16
OVERHEAD = _NONCE + _TAG


def sealed_length(plain_length: int) -> int:
    records = max(1, -(-plain_length // RECORD))
    return plain_length + records * OVERHEAD


def _aad(context: bytes, index: int, last: bool) -> bytes:
    return context + struct.pack(">QB", index, 1 if last else 0)


async def seal(
    aead: AESGCM, context: bytes, chunks: AsyncIterator[bytes], plain_length: int
) -> AsyncIterator[bytes]:
    """Encrypt exactly `plain_length` bytes of `chunks` (raises IncompleteBody
    if the source ends early: the upload is then aborted short)."""
    records = max(1, -(-plain_length // RECORD))
    buffer = bytearray()
    index = 0
    source = aiter(chunks)
    while index < records:
        want = min(RECORD, plain_length - index * RECORD)
        while len(buffer) < want:
            try:
                buffer += await anext(source)
            except StopAsyncIteration:
                raise errors.IncompleteBody() from None
        record, buffer = bytes(buffer[:want]), buffer[want:]
        nonce = os.urandom(_NONCE)
        last = index == records - 1
        yield nonce + aead.encrypt(nonce, record, _aad(context, index, last))
        index += 1
    async for extra in source:  # drain: the body's own checks run at its end
        if extra:
            raise errors.InvalidRequest("The body is longer than its declared length")


async def open_sealed(
    aead: AESGCM, context: bytes, chunks: AsyncIterator[bytes], sealed_len: int
) -> AsyncIterator[bytes]:
    """Decrypt a stream written by `seal`; any tampering is InternalError."""
    records = max(1, -(-sealed_len // (RECORD + OVERHEAD)))
    buffer = bytearray()
    index = 0
    source = aiter(chunks)
    while index < records:
        last = index == records - 1
        want = (sealed_len - index * (RECORD + OVERHEAD)) if last else RECORD + OVERHEAD
        while len(buffer) < want:
            try:
                buffer += await anext(source)
            except StopAsyncIteration:
                raise errors.InternalError("A staged part is truncated") from None
        record, buffer = bytes(buffer[:want]), buffer[want:]
        try:
            yield aead.decrypt(record[:_NONCE], record[_NONCE:], _aad(context, index, last))
        except InvalidTag as exc:
            raise errors.InternalError("A staged part failed its integrity check") from exc
        index += 1
    if buffer:
        raise errors.InternalError("A staged part has trailing bytes")
