"""The content codings the masker can see through, on both sides.

Each coding has a streaming decoder and a deterministic encoder with the same
interface (`feed` → pieces, `finish` → the rest). Decoders are bounded: one
call never inflates more than `piece` bytes at a time, so a small compressed
chunk (a "zip bomb") never becomes one huge buffer; the caller counts what
comes out against the inflation limits (see `decoding`).

The allow-list is `CODINGS`: gzip (and its alias x-gzip), deflate (RFC 9110:
the zlib format; raw deflate is accepted too, as browsers do), br (Brotli,
through the `brotli` bindings of Google's library) and zstd (the
`compression.zstd` API of Python 3.14, from the `backports.zstd` package
before that). Anything else cannot be inspected and is refused by the caller.

Encoders are deterministic (fixed levels, no timestamps) so that a read view's
bytes, length and ETag are the same on every request and every replica.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import brotli

from s3gate.transform.errors import UnreadableContent
from s3gate.transform.gzipped import GZIP_MAGIC, Gunzip, Gzip, ZlibMembers

if sys.version_info >= (3, 14):  # pragma: no cover - the stdlib module
    from compression import zstd
else:
    from backports import zstd

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZLIB_LEVEL = 6
BROTLI_QUALITY = 5  # of 0-11: ~zlib-6 speed with a better ratio
ZSTD_LEVEL = 3  # zstd's own default


class Coder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class Inflate:
    """`deflate`: the zlib format, or raw deflate when the first bytes are
    not a zlib header (some servers send that). Concatenated streams are read
    in turn, as for gzip."""

    def __init__(self, piece: int) -> None:
        self._piece = piece
        self._head = b""
        self._members: ZlibMembers | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._members is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wbits = zlib.MAX_WBITS if is_zlib_header(data) else -zlib.MAX_WBITS
            self._members = ZlibMembers(self._piece, wbits, "deflate")
        yield from self._members.feed(data)

    def finish(self) -> Iterator[bytes]:
        if self._head:
            raise UnreadableContent("the deflate body is truncated")
        return self._members.finish() if self._members is not None else iter(())


class Deflate:
    """zlib format (what `Content-Encoding: deflate` means), fixed level."""

    def __init__(self) -> None:
        self._c = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS, 9)

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._c.compress(data)
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        yield self._c.flush()


class Unbrotli:
    def __init__(self, piece: int) -> None:
        self._piece = piece
        self._d = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if self._d.is_finished():
            raise UnreadableContent("the body has data after the end of its Brotli stream")
        self._fed = True
        try:
            out = self._d.process(data, output_buffer_limit=self._piece)
            while True:
                if out:
                    yield out
                if self._d.can_accept_more_data():
                    return
                out = self._d.process(b"", output_buffer_limit=self._piece)
        except brotli.error as exc:
            raise UnreadableContent("the body is not valid Brotli") from exc

    def finish(self) -> Iterator[bytes]:
        try:
            while self._fed and not self._d.is_finished():
                out = self._d.process(b"", output_buffer_limit=self._piece)
                if not out:
                    raise UnreadableContent("the Brotli body is truncated")
                yield out
        except brotli.error as exc:
            raise UnreadableContent("the body is not valid Brotli") from exc


class Brotli:
    def __init__(self) -> None:
        self._c = brotli.Compressor(quality=BROTLI_QUALITY)

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._c.process(data)
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        yield self._c.finish()


class Unzstd:
    """Zstandard frames, in turn (as `zstd -c a b` writes them)."""

    def __init__(self, piece: int) -> None:
        self._piece = piece
        self._d = zstd.ZstdDecompressor()
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._fed = True
        try:
            while True:
                out = self._d.decompress(data, max_length=self._piece)
                if out:
                    yield out
                if self._d.eof:
                    data = self._d.unused_data
                    self._d = zstd.ZstdDecompressor()
                    self._fed = bool(data)
                    if not data:
                        return
                    continue
                if self._d.needs_input:
                    return
                data = b""  # more output is waiting inside the decompressor
        except zstd.ZstdError as exc:
            raise UnreadableContent("the body is not valid zstd") from exc

    def finish(self) -> Iterator[bytes]:
        if self._fed and not self._d.eof:
            raise UnreadableContent("the zstd body is truncated")
        return iter(())


class Zstd:
    def __init__(self) -> None:
        self._c = zstd.ZstdCompressor(level=ZSTD_LEVEL)

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._c.compress(data)
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        yield self._c.flush(zstd.ZstdCompressor.FLUSH_FRAME)


# name → (decoder(piece), encoder()). Names as Content-Encoding spells them.
CODINGS: dict[str, tuple[Callable[[int], Coder], Callable[[], Coder]]] = {
    "gzip": (Gunzip, Gzip),
    "deflate": (Inflate, Deflate),
    "br": (Unbrotli, Brotli),
    "zstd": (Unzstd, Zstd),
}
ALIASES = {"x-gzip": "gzip"}
# Codings that change nothing: dropped from the list.
IDENTITY = {"identity", ""}


def canonical(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


def is_zlib_header(head: bytes) -> bool:
    """RFC 1950: CM 8, a window of at most 32 KiB, FCHECK, no preset dictionary."""
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0 and not flg & 0x20


def sniff_coding(head: bytes, complete: bool) -> str | None:
    """The coding of a body that declared none, from its first bytes.

    gzip and zstd have strong magic numbers. zlib's two-byte header is weak
    (`x^` is also text), so a zlib candidate counts only if the bytes at hand
    inflate without error (and, for a complete body, to the end). Brotli has
    no magic number: undeclared, it looks like binary and follows the
    profile's binary rule."""
    if head.startswith(GZIP_MAGIC + b"\x08"):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if is_zlib_header(head):
        probe = zlib.decompressobj()
        try:
            probe.decompress(head, 1 << 16)
        except zlib.error:
            return None
        if complete and not probe.eof:
            return None
        return "deflate"
    return None


SNIFF_CODING_BYTES = 512
