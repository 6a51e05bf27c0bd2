"""Canaries and a reader that sees through every form they could hide in.

`forms(data)` decodes bytes the way a curious reader's tools would —
every compression layer (gzip, zlib, raw deflate, Brotli, zstd, repeated),
then every text encoding a JSON or text reader might assume (UTF-8, UTF-16,
UTF-32, either order, with or without a byte-order mark) — independently of
the gateway's own decoders. `leaks(data)` names the canaries found in any of
those forms. A test that finds none has looked everywhere its tools can.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import zlib

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

EMAIL = "jane.canary@example.com"
ANTHROPIC = "sk-ant-api03-canaryCANARYcanary0123456789abcdefghijklmnopqrstuvw"
AWS_KEY = "AKIAQCANARY7EXAMPLEZ"
CARD = "4111111111111111"
CANARIES = (EMAIL, ANTHROPIC, AWS_KEY, CARD)
# Fragments that stay recognisable when a value is cut or escaped differently.
_NEEDLES = {
    EMAIL: ("jane.canary@example.com", "jane.canary"),
    ANTHROPIC: ("canaryCANARYcanary",),
    AWS_KEY: ("AKIAQCANARY7",),
    CARD: ("4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111"),
}


def record(n: int = 0) -> dict[str, object]:
    """One trace record carrying every canary, as strings."""
    return {
        "step": n,
        "thought": f"email {EMAIL} about the refund",
        "tool": {"name": "http", "api_key": ANTHROPIC},
        "env": f"AWS_ACCESS_KEY_ID={AWS_KEY}",
        "payment": {"card": CARD},
    }


def jsonl(records: int = 3) -> bytes:
    return b"".join(json.dumps(record(i)).encode() + b"\n" for i in range(records))


def _inflate_once(data: bytes) -> list[bytes]:
    found: list[bytes] = []
    for wbits in (31, 15, -15):  # gzip (all members), zlib, raw deflate
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(data, 256 << 20)
            while d.eof and d.unused_data and wbits == 31:
                rest = d.unused_data
                d = zlib.decompressobj(wbits)
                out += d.decompress(rest, 256 << 20)
            if out:
                found.append(out)
        except zlib.error:
            pass
    with contextlib.suppress(brotli.error):
        found.append(brotli.decompress(data))
    with contextlib.suppress(zstd.ZstdError):
        found.append(zstd.decompress(data))
    return [f for f in found if f != data]


def forms(data: bytes, depth: int = 4) -> list[str]:
    layers = [data]
    frontier = [data]
    for _ in range(depth):
        frontier = [out for d in frontier for out in _inflate_once(d)]
        layers += frontier
    texts: list[str] = []
    for layer in layers:
        for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "latin-1"):
            for start in (0, 1, 2, 3, 4):
                try:
                    text = layer[start:].decode(codec, "ignore")
                except UnicodeError:
                    continue
                texts.append(text)
                texts.append(_unescape_json(text))
    return texts


def _unescape_json(text: str) -> str:
    """JSON string escapes undone, as a JSON reader would (`\\u0040` → `@`)."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("\\/", "/")


def leaks(data: bytes, canaries: tuple[str, ...] = CANARIES) -> list[str]:
    seen = forms(data)
    return [c for c in canaries if any(n in t for t in seen for n in _NEEDLES.get(c, (c,)))]
