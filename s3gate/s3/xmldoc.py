"""The pieces every S3 XML document of the gateway shares: the namespace and
declaration, the one owner, how an element and a key are written, and how an
(untrusted) request body is read.

The renderers live beside it by kind (`s3/listxml.py` the listings,
`s3/xml.py` the other answers and request bodies, `s3/tagxml.py`,
`s3/partcopy.py`, `s3/acl.py`); they all write through `element` so that no
key reaches a document unescaped.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.etree.ElementTree import Element

from s3gate import errors
from s3gate.s3 import xmltree
from s3gate.xmltext import escape

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER_ID = "s3gate"


def element(name: str, value: object) -> str:
    """`<name>value</name>`, `value` escaped; booleans as S3 writes them."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


class Encoder:
    """Applies encoding-type=url to keys and prefixes when the client asked."""

    def __init__(self, encoding_type: str | None) -> None:
        self.url = encoding_type == "url"

    def __call__(self, value: str) -> str:
        return quote(value, safe="/") if self.url else value


def owner() -> str:
    """The `<Owner>` element: the gateway is the one account the store sees."""
    return f"<Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>"


def parse_xml(body: bytes) -> Element:
    """A client's request body (size already bounded by the caller): defusedxml,
    no DTDs; anything unexpected is `MalformedXML`."""
    return xmltree.parse(body, errors.MalformedXML)


# Reading a parsed body (the request parsers of s3.xml, s3.acl, s3.tagxml).
local_name = xmltree.local
children = xmltree.children
text_of = xmltree.only_text
