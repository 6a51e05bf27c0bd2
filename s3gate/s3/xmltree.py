"""Reading XML documents, the same way for request bodies from clients
(`s3/xml.py`) and for the store's answers (`upstream/s3/xml.py`).

Parsing goes through defusedxml with DTDs forbidden (no entity expansion, no
external entities); the caller bounds the size first. S3's documents are
UTF-8: bytes that are not, or a declaration naming another encoding, are
refused rather than read in a second charset (the same bytes declared
ISO-8859-1 would say "Ã©" to a reader that honours the declaration and "é"
to one that does not). Element names are
matched without their namespace: AWS uses the 2006-03-01 namespace, some
clients and S3-compatible stores none or another one.

What a bad document costs differs by who sent it, and that is the caller's
choice of error: a client's malformed body is its `MalformedXML`, a store's
is our `InternalError`. A repeated element where one is expected is refused
(`only_text`) in what clients send, where taking either copy could let two
readers of the same body disagree; so is an element inside one that holds
text (`<Key>a<b/>c</Key>`: "a" to one reader, "ac" to another). In the
store's answers `first_text` takes the first, as the SDKs do.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from s3gate import errors

# The encoding an XML declaration names (it can only come first, after a BOM).
_DECLARED = re.compile(r"""\A\ufeff?<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")


def parse(body: bytes, bad: type[errors.S3Error], message: str | None = None) -> Element:
    """The root element of `body`; anything that is not one well-formed XML
    document without a DTD, in UTF-8, raises `bad` (with `message` when
    given)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad(message) from exc
    # The whole declaration, however long its blanks: it stops at the first ">".
    declared = _DECLARED.match(text)
    if declared is not None and declared.group(1).lower() != "utf-8":
        raise bad(message)
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise bad(message) from exc
    return root


def local(tag: str) -> str:
    """An element's name without its `{namespace}`."""
    return tag.rpartition("}")[2]


def children(el: Element, name: str) -> list[Element]:
    return [c for c in el if local(c.tag) == name]


def only_text(el: Element, name: str) -> str | None:
    """The text of `el`'s one child `name`, None when absent; two or more
    are MalformedXML, and so is an element inside it."""
    found = children(el, name)
    if len(found) > 1 or (found and len(found[0])):
        raise errors.MalformedXML()
    return None if not found else (found[0].text or "")


def first_text(el: Element, name: str, default: str = "") -> str:
    """The text of `el`'s first child `name`, `default` when absent."""
    for c in el:
        if local(c.tag) == name:
            return c.text or ""
    return default
