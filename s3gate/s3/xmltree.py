"""Reading XML documents, the same way for request bodies from clients
(`s3/xml.py`) and for the store's answers (`upstream/s3/xml.py`).

Parsing goes through defusedxml with DTDs forbidden (no entity expansion, no
external entities); the caller bounds the size first. Element names are
matched without their namespace: AWS uses the 2006-03-01 namespace, some
clients and S3-compatible stores none or another one.

What a bad document costs differs by who sent it, and that is the caller's
choice of error: a client's malformed body is its `MalformedXML`, a store's
is our `InternalError`. A repeated element where one is expected is refused
(`only_text`) in what clients send, where taking either copy could let two
readers of the same body disagree; in the store's answers `first_text` takes
the first, as the SDKs do.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from s3gate import errors


def parse(body: bytes, bad: type[errors.S3Error], message: str | None = None) -> Element:
    """The root element of `body`; anything that is not one well-formed XML
    document without a DTD raises `bad` (with `message` when given)."""
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
    are MalformedXML."""
    found = children(el, name)
    if len(found) > 1:
        raise errors.MalformedXML()
    return None if not found else (found[0].text or "")


def first_text(el: Element, name: str, default: str = "") -> str:
    """The text of `el`'s first child `name`, `default` when absent."""
    for c in el:
        if local(c.tag) == name:
            return c.text or ""
    return default
