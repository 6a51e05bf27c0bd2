"""The XML reader (s3.xmltree): one well-formed document without a DTD, names
matched without their namespace, a repeated element refused where one is
expected. Hostile documents first."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3 import xmltree

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Delete><Object><Key>&lol4;</Key></Object></Delete>"""

HOSTILE = [
    pytest.param(BILLION_LAUGHS, id="billion-laughs"),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Delete><Object><Key>&x;</Key></Object></Delete>",
        id="external-entity",
    ),
    pytest.param(
        b'<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><Delete/>',
        id="external-parameter-entity",
    ),
    pytest.param(
        b'<!DOCTYPE Delete SYSTEM "http://127.0.0.1:1/x.dtd"><Delete/>', id="external-dtd"
    ),
    pytest.param(b"<!DOCTYPE Delete><Delete/>", id="empty-doctype"),
    pytest.param(b"<Delete><Key>&undefined;</Key></Delete>", id="undefined-entity"),
    pytest.param(b"", id="empty"),
    pytest.param(b"   ", id="blank"),
    pytest.param(b"<Delete>", id="unclosed"),
    pytest.param(b"<Delete></Remove>", id="mismatched"),
    pytest.param(b"<a/><b/>", id="two-roots"),
    pytest.param(b"just text", id="not-xml"),
    pytest.param(b"<Delete><Key>\xff\xfe</Key></Delete>", id="invalid-utf8"),
    pytest.param(b"<Delete><Key>\xc3</Key></Delete>", id="truncated-utf8"),
    pytest.param(b"<Delete><Key>\xed\xa0\x80</Key></Delete>", id="utf8-surrogate"),
    pytest.param(
        b'<?xml version="1.0" encoding="UTF-8"?><Delete><Key>\xe9</Key></Delete>',
        id="declared-utf8-but-latin1-bytes",
    ),
    pytest.param(
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Delete><Key>\xe9</Key></Delete>',
        id="declared-latin1",
    ),
    pytest.param(
        '<?xml version="1.0" encoding="UTF-16"?><Delete><Key>k</Key></Delete>'.encode("utf-16"),
        id="utf16",
    ),
    pytest.param(b"<Delete><Key>&#1;</Key></Delete>", id="reference-to-a-non-xml-char"),
    pytest.param(b"<Delete><Key>\x01</Key></Delete>", id="raw-control-char"),
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_documents_raise_the_callers_error(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        xmltree.parse(body, errors.MalformedXML)
    # The store's answers get the caller's other choice, with its message.
    with pytest.raises(errors.InternalError) as caught:
        xmltree.parse(body, errors.InternalError, "the store answered nonsense")
    assert caught.value.message == "the store answered nonsense"


@pytest.mark.parametrize(
    "declaration",
    [
        pytest.param('<?xml version="1.0" encoding="ISO-8859-1"?>', id="latin1"),
        pytest.param("<?xml version='1.0' encoding='latin-1'?>", id="single-quotes"),
        pytest.param('<?xml version="1.0"' + " " * 300 + 'encoding="ISO-8859-1"?>', id="padded"),
        pytest.param('<?xml version="1.0"\n\tencoding = "windows-1252" ?>', id="blanks-around"),
        pytest.param('\ufeff<?xml version="1.0" encoding="US-ASCII"?>', id="after-a-bom"),
    ],
)
def test_a_declared_other_encoding_is_not_a_second_reading_of_utf8_bytes(
    declaration: str,
) -> None:
    """The same bytes read as UTF-8 say "é", as ISO-8859-1 "Ã©": a document
    two readers would disagree on is not read at all."""
    body = f"{declaration}<K>é</K>".encode()
    with pytest.raises(errors.MalformedXML):
        xmltree.parse(body, errors.MalformedXML)


GOOD = [
    pytest.param(b"<Delete/>", "Delete", id="bare"),
    pytest.param(b'<?xml version="1.0" encoding="UTF-8"?>\n<Delete/>', "Delete", id="declared"),
    pytest.param(b'<?xml version="1.0" encoding="utf-8"?><Delete/>', "Delete", id="lower-case"),
    pytest.param(b'<?xml version="1.0"?><Delete/>', "Delete", id="no-encoding"),
    pytest.param(b"\xef\xbb\xbf<Delete/>", "Delete", id="utf8-bom"),
    pytest.param(
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>', "Delete", id="aws-namespace"
    ),
    pytest.param(b'<x:Delete xmlns:x="urn:other"/>', "Delete", id="prefixed-namespace"),
    pytest.param(b"<!-- hi --><Delete/>", "Delete", id="comment"),
]


@pytest.mark.parametrize(("body", "name"), GOOD)
def test_well_formed_documents_parse(body: bytes, name: str) -> None:
    assert xmltree.local(xmltree.parse(body, errors.MalformedXML).tag) == name


def test_text_keeps_references_and_whitespace() -> None:
    root = xmltree.parse(
        "<R><K>a&#13;&#10;b&#9; &amp;&lt;日本</K></R>".encode(), errors.MalformedXML
    )
    assert xmltree.only_text(root, "K") == "a\r\nb\t &<日本"


LOCAL = [
    pytest.param("{http://s3.amazonaws.com/doc/2006-03-01/}Key", "Key", id="namespaced"),
    pytest.param("Key", "Key", id="plain"),
    pytest.param("{}Key", "Key", id="empty-namespace"),
]


@pytest.mark.parametrize(("tag", "name"), LOCAL)
def test_local(tag: str, name: str) -> None:
    assert xmltree.local(tag) == name


DOC = (
    b'<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<One>1</One><Empty/><Two>a</Two><Two>b</Two><x:Other xmlns:x='urn:x'>o</x:Other></R>"
)

ONLY = [
    pytest.param("One", "1", id="one"),
    pytest.param("Empty", "", id="empty-element"),
    pytest.param("Missing", None, id="absent"),
    pytest.param("Other", "o", id="other-namespace"),
]


@pytest.mark.parametrize(("name", "expected"), ONLY)
def test_only_text(name: str, expected: str | None) -> None:
    assert xmltree.only_text(xmltree.parse(DOC, errors.MalformedXML), name) == expected


def test_only_text_refuses_a_repeated_element() -> None:
    with pytest.raises(errors.MalformedXML):
        xmltree.only_text(xmltree.parse(DOC, errors.MalformedXML), "Two")


FIRST = [
    pytest.param("Two", "", "a", id="repeated-first-wins"),
    pytest.param("One", "", "1", id="one"),
    pytest.param("Empty", "d", "", id="empty-element-not-default"),
    pytest.param("Missing", "d", "d", id="absent-default"),
]


@pytest.mark.parametrize(("name", "default", "expected"), FIRST)
def test_first_text(name: str, default: str, expected: str) -> None:
    root = xmltree.parse(DOC, errors.MalformedXML)
    assert xmltree.first_text(root, name, default) == expected


def test_children_are_matched_without_namespace_and_in_order() -> None:
    root = xmltree.parse(DOC, errors.MalformedXML)
    assert [c.text for c in xmltree.children(root, "Two")] == ["a", "b"]
    assert xmltree.children(root, "Missing") == []
