"""Streaming gzip on both sides of the masker.

Decompression is bounded: each call inflates at most `piece` bytes at a time,
so a small compressed chunk (a "zip bomb") never becomes one huge buffer.
Concatenated gzip members (as `cat a.gz b.gz` makes) are read in turn.

Compression is deterministic so that a read view's bytes, length and ETag
are the same on every request and every replica: a fixed header (no name,
mtime 0, OS "unknown") around raw deflate at a fixed level. Deflate output
depends on the zlib build; replicas run the same image.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from s3gate.transform.errors import UnreadableContent

GZIP_MAGIC = b"\x1f\x8b"
LEVEL = 6
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0, OS unknown


class ZlibMembers:
    """A zlib-family stream (`wbits` as zlib takes it: 31 gzip, 15 zlib, -15
    raw deflate), bounded to `piece` bytes per inflate call; concatenated
    members are read in turn. `name` is for the client's error message."""

    def __init__(self, piece: int, wbits: int, name: str) -> None:
        self._piece = piece
        self._wbits = wbits
        self._name = name
        self._d = zlib.decompressobj(wbits=wbits)
        self._fed = False  # the current member has seen input

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._fed = True
        while True:
            try:
                out = self._d.decompress(data, self._piece)
            except zlib.error as exc:
                raise UnreadableContent(f"the body is not valid {self._name}") from exc
            if out:
                yield out
            if self._d.eof:
                # The next member, if any, starts in unused_data.
                data = self._d.unused_data
                self._d = zlib.decompressobj(wbits=self._wbits)
                self._fed = bool(data)
                if not data:
                    return
                continue
            data = self._d.unconsumed_tail
            # Output held back by the size cap comes out on the next call.
            if not data and len(out) < self._piece:
                return

    def finish(self) -> Iterator[bytes]:
        if self._fed and not self._d.eof:
            raise UnreadableContent(f"the {self._name} body is truncated")
        return iter(())


class Gunzip(ZlibMembers):
    def __init__(self, piece: int) -> None:
        super().__init__(piece, 31, "gzip")


class Gzip:
    def __init__(self) -> None:
        self._c = zlib.compressobj(LEVEL, zlib.DEFLATED, -15, 9)
        self._crc = 0
        self._size = 0
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        head = b""
        if not self._started:
            self._started = True
            head = _HEADER
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        out = head + self._c.compress(data)
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        head = b"" if self._started else _HEADER
        self._started = True
        yield head + self._c.flush() + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
