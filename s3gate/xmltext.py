"""One rule for putting text into the XML the gateway writes: S3 responses,
error documents, STS documents and the bodies sent to the store.

`&`, `<`, `>` and `"` become entities, and every character below U+0020 a
numeric character reference. Tab, LF and CR are legal in XML 1.0, but a
parser turns a literal CR (or CRLF) into LF and some parsers strip the
whitespace around text, so all three go as references and come back exactly.
The other C0 characters are not XML 1.0 at all, even as references; S3 writes
them that way anyway. U+FFFE and U+FFFF (XML 1.0's non-characters) go as
references too, never raw: a raw one makes the whole document unparseable
where a reference names the one character. `carries` says whether XML 1.0
can carry a text at all; a listing with a name it cannot carry is sent
url-encoded (`handlers/listencoding.py`), so it parses. The floor holds this
because `errors/` writes XML too and may import nothing above it.
"""

from __future__ import annotations

import re

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_REFERENCED = [*range(0x20), 0xFFFE, 0xFFFF]
_TABLE = str.maketrans({**_ENTITIES, **{chr(c): f"&#{c};" for c in _REFERENCED}})
# Outside XML 1.0's `Char` production: C0 but TAB, LF and CR; surrogates
# (a str holds them only from a surrogate-escaped decode); U+FFFE, U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(value: str) -> str:
    """`value` as XML character data (also safe inside a double-quoted
    attribute)."""
    return value.translate(_TABLE)


def element(name: str, value: str) -> str:
    """`<name>value</name>` with `value` escaped; `name` is ours, never
    input."""
    return f"<{name}>{escape(value)}</{name}>"


def carries(value: str) -> bool:
    """Whether an XML 1.0 document can hold `value` (escaped or as
    references) and a conforming parser give it back."""
    return _NOT_XML.search(value) is None
