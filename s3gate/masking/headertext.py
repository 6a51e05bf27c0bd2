"""The text a stored header value carries, and the value for new text.

A header value arrives as latin-1 characters (one per byte on the wire).
What S3 stores and a reader sees is one of three forms, and the masker must
read the text, not its encoding:

- plain ASCII or latin-1 (`plain`);
- UTF-8 bytes sent raw (Go and curl clients do this; `utf8`);
- RFC 2047 encoded words (`=?UTF-8?B?…?=`), which S3 decodes before storing
  user metadata — and which would otherwise hide any text in base64 (`rfc2047`).

`encode` writes masked text back in the value's own form, so an unchanged
value is byte-identical and a changed one stays a valid header value (no
CR, LF or NUL: text that would need them is written as an encoded word).
An encoded word in a charset outside a small allow-list, or one that does
not decode, cannot be inspected and is refused by the caller.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

Form = Literal["plain", "utf8", "rfc2047"]
_WORD = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=")
_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "latin1": "latin-1",
    "latin-1": "latin-1",
}
_UNSAFE = re.compile(r"[\x00\r\n]")


class Undecodable(ValueError):
    """An encoded word the gateway cannot read (the reason names no content)."""


@dataclass(frozen=True)
class HeaderText:
    text: str
    form: Form


def decode(value: str) -> HeaderText:
    if "=?" in value and _WORD.search(value):
        return HeaderText(_decode_words(value), "rfc2047")
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # already text (a value read back from a client library)
        return HeaderText(value, "plain")
    if raw.isascii():
        return HeaderText(value, "plain")
    try:
        return HeaderText(raw.decode("utf-8"), "utf8")
    except UnicodeDecodeError:
        return HeaderText(value, "plain")


def encode(text: str, form: Form) -> str:
    """`text` as a header value in `form` (or as an encoded word if it must)."""
    if form == "plain" and not _UNSAFE.search(text):
        try:
            text.encode("latin-1")
            return text
        except UnicodeEncodeError:
            pass
    if form == "utf8" and not _UNSAFE.search(text):
        return text.encode("utf-8").decode("latin-1")
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def safe(value: str) -> bool:
    """Can this be sent as a header value?"""
    return not _UNSAFE.search(value)


def _decode_words(value: str) -> str:
    out: list[str] = []
    pos = 0
    previous_word = False
    for m in _WORD.finditer(value):
        gap = value[pos : m.start()]
        # Whitespace between two encoded words is not part of the text.
        if not (previous_word and gap.strip() == ""):
            out.append(gap)
        out.append(_decode_word(m.group(1), m.group(2), m.group(3)))
        pos = m.end()
        previous_word = True
    out.append(value[pos:])
    return "".join(out)


def _decode_word(charset: str, coding: str, payload: str) -> str:
    codec = _CHARSETS.get(charset.lower())
    if codec is None:
        raise Undecodable("an RFC 2047 encoded word in a charset the gateway does not read")
    try:
        data = base64.b64decode(payload, validate=True) if coding in "Bb" else _q_decode(payload)
        return data.decode(codec)
    except (binascii.Error, ValueError) as exc:
        raise Undecodable("an RFC 2047 encoded word that does not decode") from exc


def _q_decode(payload: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(payload):
        ch = payload[i]
        if ch == "_":
            out.append(0x20)
        elif ch == "=":
            out.append(int(payload[i + 1 : i + 3], 16))  # ValueError if malformed
            if len(payload[i + 1 : i + 3]) != 2:
                raise ValueError("short escape")
            i += 2
        else:
            out.extend(ch.encode("latin-1"))
        i += 1
    return bytes(out)
