"""What kind of content a body is: the Content-Type header first, then the
key's extension, then a look at the first bytes (after `decoding` has
undone the content codings and the text encoding).

Generic types (`application/octet-stream`, `binary/octet-stream`, none)
say nothing, so the extension decides; a specific non-text type (an image,
a PDF) is binary. Content codings come from Content-Encoding or a `.gz` key
(and from magic bytes: see `decoding`), the charset from the Content-Type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from s3gate.transform.charset import declared_charset
from s3gate.transform.compression import CODINGS, IDENTITY, canonical

Kind = Literal["jsonl", "json", "text", "binary"]

_JSONL_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-seq",
    "text/x-ndjson",
    "text/jsonl",
}
_JSON_TYPES = {"application/json", "text/json"}
_TEXTUAL_APP_TYPES = {
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/csv",
    "application/javascript",
    "application/x-sh",
    "application/sql",
}
# Markup is not inspected as text: character references (`&#64;`), entities
# and in-band charsets (`<meta charset>`, `<?xml encoding?>`) make what a
# browser or XML reader shows differ from the bytes the detectors read. It
# follows the binary rule, and so do `.html`, `.xml`, `.svg` keys without a type.
_MARKUP = {"text/html", "application/xhtml+xml", "application/xml", "text/xml"}
_GENERIC = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}

_EXTENSIONS: dict[str, Kind] = {
    **dict.fromkeys(["html", "htm", "xhtml", "xml", "svg"], "binary"),  # markup: see _MARKUP
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "jsonlines": "jsonl",
    "json": "json",
    **dict.fromkeys(
        [
            "txt",
            "log",
            "md",
            "markdown",
            "csv",
            "tsv",
            "yaml",
            "yml",
            "py",
            "js",
            "ts",
            "sql",
            "sh",
            "toml",
            "ini",
            "cfg",
            "conf",
            "out",
            "err",
            "trace",
            "rst",
        ],
        "text",
    ),
}
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class ContentInfo:
    kind: Kind | None  # None: decide by sniffing the (decompressed) bytes
    # Content codings, outer first (the reverse of Content-Encoding's order).
    codings: tuple[str, ...]
    charset: str | None  # the Content-Type's charset parameter
    # Codings the gateway cannot decode (the body cannot be inspected).
    unsupported: tuple[str, ...] = ()

    @property
    def gzip(self) -> bool:
        return "gzip" in self.codings


def declared(content_type: str | None, content_encoding: str | None, key: str) -> ContentInfo:
    """What the headers and the key's name say. Content-Encoding lists the
    codings in the order they were applied, so they are undone in reverse; a
    `.gz` key without a declared coding is gzip."""
    listed = [canonical(e) for e in (content_encoding or "").split(",")]
    applied = [e for e in listed if e not in IDENTITY]
    name = key.rsplit("/", 1)[-1].lower()
    if name.endswith(".gz"):
        name = name[:-3]
        if not applied:
            applied = ["gzip"]
    unsupported = tuple(e for e in applied if e not in CODINGS)
    return ContentInfo(
        _from_type(content_type) or _from_extension(name),
        tuple(reversed(applied)),
        declared_charset(content_type),
        unsupported,
    )


def _from_type(content_type: str | None) -> Kind | None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _GENERIC:
        return None
    if media in _JSONL_TYPES:
        return "jsonl"
    if media in _JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in _MARKUP or media.endswith("+xml"):
        return "binary"
    if media.startswith("text/") or media in _TEXTUAL_APP_TYPES:
        return "text"
    return "binary"


def _from_extension(name: str) -> Kind | None:
    if "." not in name:
        return None
    return _EXTENSIONS.get(name.rsplit(".", 1)[1])


def sniff(head: bytes, complete: bool) -> Kind:
    """The kind of content from its first bytes (`complete`: that is all)."""
    if not head:
        return "text"
    if b"\x00" in head:
        return "binary"
    probe = head if complete else head[: len(head) - 4]  # a cut UTF-8 sequence
    try:
        probe.decode("utf-8")
    except UnicodeDecodeError:
        # Text in another encoding declares it (charset=) or shows it (a
        # byte-order mark, UTF-16/32 zeros): `decoding` has transcoded it.
        return "binary"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        lines = [ln for ln in stripped.split(b"\n") if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip()[:1] in (b"{", b"[") for ln in lines[:3]):
            return "jsonl"
        return "json"
    return "text"
