"""The floor's one escaping rule (s3gate.xmltext): the five characters XML
gives meaning to and every C0 control character, and nothing else."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from s3gate.xmltext import carries, element, escape

ESCAPED = [
    pytest.param("plain/key.jsonl", "plain/key.jsonl", id="plain"),
    pytest.param("", "", id="empty"),
    pytest.param("a&b", "a&amp;b", id="amp"),
    pytest.param("<tag>", "&lt;tag&gt;", id="lt-gt"),
    pytest.param('say "hi"', "say &quot;hi&quot;", id="quot"),
    pytest.param("it's", "it's", id="apostrophe-kept"),  # only double-quoted attributes
    pytest.param("&amp;", "&amp;amp;", id="entity-text-escaped-again"),
    pytest.param("a\tb", "a&#9;b", id="tab"),
    pytest.param("a\nb", "a&#10;b", id="lf"),
    pytest.param("a\rb", "a&#13;b", id="cr"),
    pytest.param("a\r\nb", "a&#13;&#10;b", id="crlf"),
    pytest.param("\x00", "&#0;", id="nul"),
    pytest.param("\x01\x1f", "&#1;&#31;", id="c0-ends"),
    pytest.param(" ", " ", id="space-is-not-c0"),
    pytest.param("\x7f\x85", "\x7f\x85", id="del-and-c1-kept"),
    pytest.param("ключ/日本/😀", "ключ/日本/😀", id="non-ascii-kept"),
    pytest.param("]]>", "]]&gt;", id="cdata-end"),
]


@pytest.mark.parametrize(("value", "expected"), ESCAPED)
def test_escape(value: str, expected: str) -> None:
    assert escape(value) == expected


@pytest.mark.parametrize("code", range(0x20), ids=lambda c: f"U+{c:04X}")
def test_no_c0_character_is_ever_written_raw(code: int) -> None:
    written = escape(f"k{chr(code)}k")
    assert written == f"k&#{code};k"


# What XML 1.0 allows comes back exactly, whitespace included, once parsed.
ROUND_TRIP = [
    pytest.param('a&b<c>d"e', id="specials"),
    pytest.param("line1\nline2", id="lf"),
    pytest.param("line1\r\nline2", id="crlf"),
    pytest.param("cr\ronly", id="cr"),
    pytest.param("\ttabbed\t", id="tabs"),
    pytest.param("  spaced  ", id="spaces"),
    pytest.param("\n", id="only-lf"),
    pytest.param("ключ 日本 😀 \x85", id="non-ascii"),
    pytest.param("&#10;", id="reference-text"),
]


@pytest.mark.parametrize("value", ROUND_TRIP)
def test_element_round_trips_through_a_parser(value: str) -> None:
    root = SafeET.fromstring(f"<R>{element('Key', value)}</R>")
    key = root.find("Key")
    assert key is not None and key.text == value


@pytest.mark.parametrize("value", ROUND_TRIP)
def test_escape_is_safe_in_a_double_quoted_attribute(value: str) -> None:
    root = SafeET.fromstring(f'<R a="{escape(value)}"/>')
    assert root.get("a") == value


def test_element_names_are_not_escaped() -> None:
    assert element("Key", "<x>") == "<Key>&lt;x&gt;</Key>"


@pytest.mark.parametrize("char", ["\ufffe", "\uffff"], ids=["U+FFFE", "U+FFFF"])
def test_non_characters_are_never_written_raw(char: str) -> None:
    written = escape(f"k{char}k")
    assert char not in written
    assert written == f"k&#{ord(char)};k"


CARRIED = {
    "plain": ("plain/key", True),
    "tab lf cr": ("a\tb\nc\rd", True),
    "non-ascii": ("ключ/日本/😀\x85\x7f", True),
    "last plane": ("\U0010ffff", True),
    "nul": ("a\x00", False),
    "bell": ("a\x07", False),
    "unit separator": ("\x1f", False),
    "U+FFFE": ("a\ufffe", False),
    "U+FFFF": ("\uffff", False),
    "lone surrogate": ("\udc80", False),
}


@pytest.mark.parametrize(("value", "expected"), list(CARRIED.values()), ids=list(CARRIED))
def test_carries(value: str, expected: bool) -> None:
    assert carries(value) is expected
    if expected:  # and what it says XML carries, a parser gives back
        root = SafeET.fromstring(f"<R>{element('Key', value)}</R>".encode())
        assert root.findtext("Key") == value
