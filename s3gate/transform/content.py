"""What kind of content a body is: the Content-Type header first, then the
key's extension, then a look at the first bytes.

Generic types (`application/octet-stream`, `binary/octet-stream`, none)
say nothing, so the extension decides; a specific non-text type (an image,
a PDF) is binary. Compression comes from Content-Encoding, a `.gz` key, or
the gzip magic bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/csv",
    "application/javascript",
    "application/x-sh",
    "application/sql",
}
_GENERIC = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}

_EXTENSIONS: dict[str, Kind] = {
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
            "xml",
            "html",
            "htm",
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
    gzip: bool


def declared(content_type: str | None, content_encoding: str | None, key: str) -> ContentInfo:
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    name = key.rsplit("/", 1)[-1].lower()
    gzip = any(e in ("gzip", "x-gzip") for e in encodings) or name.endswith(".gz")
    if name.endswith(".gz"):
        name = name[:-3]
    return ContentInfo(_from_type(content_type) or _from_extension(name), gzip)


def _from_type(content_type: str | None) -> Kind | None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _GENERIC:
        return None
    if media in _JSONL_TYPES:
        return "jsonl"
    if media in _JSON_TYPES or media.endswith("+json"):
        return "json"
    if media.startswith("text/") or media in _TEXTUAL_APP_TYPES or media.endswith("+xml"):
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
        return "binary" if _mostly_binary(head) else "text"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        lines = [ln for ln in stripped.split(b"\n") if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip()[:1] in (b"{", b"[") for ln in lines[:3]):
            return "jsonl"
        return "json"
    return "text"


def _mostly_binary(head: bytes) -> bool:
    """Latin-1 or similar text is text; control bytes and high noise are not."""
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) // 100
