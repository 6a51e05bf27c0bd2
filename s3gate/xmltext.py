"""One rule for putting text into the XML the gateway writes: S3 responses,
error documents, STS documents and the bodies sent to the store.

`&`, `<`, `>` and `"` become entities, and every character below U+0020 a
numeric character reference. Tab, LF and CR are legal in XML 1.0, but a
parser turns a literal CR (or CRLF) into LF and some parsers strip the
whitespace around text, so all three go as references and come back exactly.
The other C0 characters are not XML 1.0 at all, even as references; S3 writes
them that way anyway, and clients that need such keys ask for
`encoding-type=url` (the listings honour it). The floor holds this because
`errors/` writes XML too and may import nothing above it.
"""

from __future__ import annotations

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_TABLE = str.maketrans({**_ENTITIES, **{chr(c): f"&#{c};" for c in range(0x20)}})


def escape(value: str) -> str:
    """`value` as XML character data (also safe inside a double-quoted
    attribute)."""
    return value.translate(_TABLE)


def element(name: str, value: str) -> str:
    """`<name>value</name>` with `value` escaped; `name` is ours, never
    input."""
    return f"<{name}>{escape(value)}</{name}>"
