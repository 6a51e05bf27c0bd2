"""Which text encoding a body is in, and the transcoders around the masker.

The detectors read UTF-8. A body in another encoding is decoded to UTF-8 for
the masker and the masked output is encoded back into the body's own
encoding (with its byte-order mark, if it had one), so the stored object and
its `Content-Type` stay what the client wrote. Decided in this order:

1. a byte-order mark (UTF-32 before UTF-16: `FF FE 00 00` starts with `FF FE`);
2. the `charset=` parameter of the Content-Type;
3. the zero-byte pattern of the first four bytes (RFC 4627 §3): UTF-16 and
   UTF-32 without a mark, which `json.loads` and many readers accept.

Otherwise the body is read as it is: UTF-8, or bytes of an ASCII-compatible
encoding, which the detectors' ASCII patterns match directly (see
`content.sniff` for bytes that are neither). A declared encoding that Python
does not know, or that is not a text encoding, cannot be inspected; bytes that
are not valid in their declared or detected encoding are `NotText`. The
caller applies the profile's binary rule to both.
"""

from __future__ import annotations

import codecs
import email.message
import email.utils
import functools
from collections.abc import Iterator
from dataclasses import dataclass

from s3gate import errors

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Read as they are: UTF-8 and its subset (ASCII bodies are very often UTF-8).
_AS_IS = {"utf-8", "ascii"}
HEAD_BYTES = 4


class NotText(errors.InvalidRequest):
    """Bytes that are not text in the encoding the body declared or showed."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        super().__init__(f"The object cannot be masked: the body is not valid {encoding} text")


@dataclass(frozen=True)
class TextEncoding:
    codec: str  # Python's codec name, byte order explicit (utf-16-le, not utf-16)
    bom: bytes = b""

    @property
    def transcodes(self) -> bool:
        return self.codec not in _AS_IS

    @property
    def ascii_compatible(self) -> bool:
        """ASCII text is the same bytes in this encoding (Latin-1, Shift_JIS
        and UTF-8 yes; UTF-16, UTF-32 and EBCDIC no)."""
        return _ascii_compatible(self.codec)


_PROBE = "Jane.Doe+1@example.com sk-ant AKIA 0123456789 =:/_\n"


@functools.lru_cache(maxsize=64)
def _ascii_compatible(codec: str) -> bool:
    try:
        return _PROBE.encode(codec) == _PROBE.encode("ascii")
    except UnicodeError:
        return False


AMBIGUOUS = "(several charset parameters)"


def declared_charset(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type, lower-case, parsed as MIME
    parsers do (quoted strings may hold `;` and `=`: `a="; charset=x"` is
    not a charset). Several charset parameters are ambiguous — readers
    disagree on which wins — and come back as AMBIGUOUS, which no codec has."""
    if not content_type or ";" not in content_type:
        return None
    msg = email.message.Message()
    msg["content-type"] = content_type
    found = [v for k, v in msg.get_params(failobj=[]) if k.lower() == "charset"]
    if len(found) > 1:
        return AMBIGUOUS
    if not found:
        return None
    value = email.utils.collapse_rfc2231_value(found[0]).strip().lower()
    return value or None


def detect(head: bytes, charset: str | None) -> TextEncoding | None:
    """The body's encoding from its first bytes and its declared charset.
    None: read the bytes as they are. Raises NotText for an encoding that
    cannot be inspected."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return TextEncoding(codec, bom)
    if charset is not None:
        return TextEncoding(_codec(charset, head))
    pattern = _zero_pattern(head)
    return TextEncoding(pattern) if pattern else None


# The encodings a client may declare: the WHATWG Encoding Standard's (what
# browsers read), UTF-7 and the common EBCDIC pages. Python knows codecs no
# reader would apply to a text body (idna, punycode, unicode_escape, …):
# those cannot be inspected as text.
_ALLOWED = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be",
        "utf-7", "ascii", "ibm866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic",
        "cp874", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256",
        "cp1257", "cp1258", "gbk", "gb18030", "big5", "euc-jp", "iso2022-jp",
        "shift-jis", "euc-kr", "cp037", "cp500", "cp1140", "cp437", "cp850",
        *(f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)),
    )
)  # fmt: skip


def _codec(charset: str, head: bytes) -> str:
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        raise NotText(charset) from None
    if name not in _ALLOWED:
        raise NotText(charset)  # rot13, idna, unicode_escape, …
    if name in ("utf-8-sig", "ascii"):
        return "utf-8"
    if name in ("utf-16", "utf-32"):
        # No mark: only the zero bytes can tell the order. RFC 2781 says
        # big-endian, browsers and Python's codec little-endian: a body they
        # would read differently cannot be inspected one way.
        pattern = _zero_pattern(head)
        if pattern and pattern.startswith(name):
            return pattern
        raise NotText(f"{name} (no byte-order mark, order not evident)")
    return name


def _zero_pattern(head: bytes) -> str | None:
    """UTF-16/32 without a mark, exactly as `json.detect_encoding` sees it
    (so everything `json.loads(bytes)` would decode that way is decoded
    here too)."""
    if len(head) >= 4:
        if not head[0]:
            return "utf-16-be" if head[1] else "utf-32-be"
        if not head[1]:
            return "utf-16-le" if head[2] or head[3] else "utf-32-le"
    elif len(head) >= 2:
        if not head[0]:
            return "utf-16-be"
        if not head[1]:
            return "utf-16-le"
    return None


class Decode:
    """Body bytes (after the mark) → UTF-8, strictly."""

    def __init__(self, encoding: TextEncoding) -> None:
        self._name = encoding.codec
        self._d = codecs.getincrementaldecoder(encoding.codec)("strict")
        self._check_only = not encoding.transcodes

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            text = self._d.decode(data)
        except UnicodeError:  # idna & co raise other UnicodeErrors
            raise NotText(self._name) from None
        if "\x00" in text:
            # NUL is no character of text or JSON; in bytes read as they are
            # it is the sign of UTF-16/32 that a reader may decode as such.
            raise NotText(self._name)
        if self._check_only:
            if data:
                yield data  # valid: pass the very bytes on
        elif text:
            yield text.encode("utf-8")

    def finish(self) -> Iterator[bytes]:
        try:
            text = self._d.decode(b"", final=True)
        except UnicodeError:
            raise NotText(self._name) from None
        if "\x00" in text:
            raise NotText(self._name)
        if text and not self._check_only:
            yield text.encode("utf-8")


class Encode:
    """Masked UTF-8 → the body's encoding, mark first."""

    def __init__(self, encoding: TextEncoding) -> None:
        self._bom = encoding.bom
        self._transcode = encoding.transcodes
        self._d = codecs.getincrementaldecoder("utf-8")("strict")
        self._e = codecs.getincrementalencoder(encoding.codec)("strict")

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._take_bom()
        out += self._e.encode(self._d.decode(data)) if self._transcode else data
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        out = self._take_bom()
        if self._transcode:
            out += self._e.encode(self._d.decode(b"", final=True), final=True)
        if out:
            yield out

    def _take_bom(self) -> bytes:
        bom, self._bom = self._bom, b""
        return bom
