"""Object tags from clients, with S3's limits (s3.tagging, s3.tagxml)."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3 import tagging, tagxml, xmldoc
from s3gate.s3.tagging import Tag


def doc(*pairs: tuple[str, str], raw: str | None = None) -> bytes:
    inner = (
        raw
        if raw is not None
        else "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    )
    return f'<Tagging xmlns="{xmldoc.NS}"><TagSet>{inner}</TagSet></Tagging>'.encode()


@pytest.mark.parametrize(
    ("body", "tags"),
    [
        (doc(), ()),
        (doc(("a", "1"), ("b", "")), (Tag("a", "1"), Tag("b", ""))),
        (doc(("k" * 128, "v" * 256)), (Tag("k" * 128, "v" * 256),)),
        (doc(("é" * 128, "ü" * 256)), (Tag("é" * 128, "ü" * 256),)),  # characters, not bytes
        (doc(raw="<Tag><Key>a</Key><Value/></Tag>"), (Tag("a", ""),)),
        (doc(*[(f"k{i}", "v") for i in range(10)]), tuple(Tag(f"k{i}", "v") for i in range(10))),
        (doc(("a:b/c", "x=y+z@w_v.")), (Tag("a:b/c", "x=y+z@w_v."),)),
        (doc(("\u65e5\u672c", "\u0661\u0662 x")), (Tag("\u65e5\u672c", "\u0661\u0662 x"),)),
    ],
)
def test_documents_parse(body: bytes, tags: tuple[Tag, ...]) -> None:
    assert tagxml.parse_xml(body) == tags
    assert tagxml.parse_xml(tagxml.document(tags)) == tags  # round trip


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (doc(*[(f"k{i}", "v") for i in range(11)]), "InvalidTag", "greater than 10"),
        (doc(("k" * 129, "v")), "InvalidTag", "TagKey you have provided is too long"),
        (doc(("k", "v" * 257)), "InvalidTag", "TagValue you have provided is too long"),
        (doc(("a", "1"), ("a", "2")), "InvalidTag", "same key"),
        (doc(("aws:owner", "x")), "InvalidTag", "aws:"),
        (doc(("AWS:owner", "x")), "InvalidTag", "aws:"),
        (doc(("", "x")), "InvalidTag", "invalid"),
        (doc(("k", "[x]")), "InvalidTag", "TagValue you have provided is invalid"),
        (doc(("a&amp;b", "x")), "InvalidTag", "TagKey you have provided is invalid"),
        (doc(("k", "a\tb")), "InvalidTag", "TagValue you have provided is invalid"),
        (doc(raw="<Tag><Key>a</Key></Tag>"), "MalformedXML", ""),
        (doc(raw="<Tag><Value>a</Value></Tag>"), "MalformedXML", ""),
        (doc(raw="<Tag><Key>a</Key><Key>b</Key><Value/></Tag>"), "MalformedXML", ""),
        (b"<Tagging></Tagging>", "MalformedXML", ""),
        (b"<Other><TagSet/></Other>", "MalformedXML", ""),
        (b"<Tagging><TagSet/><TagSet/></Tagging>", "MalformedXML", ""),
        (b"<Tagging><TagSet>", "MalformedXML", ""),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Tagging><TagSet/></Tagging>', "MalformedXML", ""),
    ],
)
def test_bad_documents_are_refused(body: bytes, code: str, says: str) -> None:
    with pytest.raises(errors.S3Error) as exc:
        tagxml.parse_xml(body)
    assert exc.value.error_code == code
    assert says in exc.value.message


@pytest.mark.parametrize(("count", "refused"), [(50, False), (51, True), (11, False)])
def test_a_bucket_may_have_50_tags(count: int, refused: bool) -> None:
    body = doc(*[(f"k{i}", "v") for i in range(count)])
    if refused:
        with pytest.raises(errors.InvalidTag) as exc:
            tagxml.parse_xml(body, max_tags=tagging.MAX_BUCKET_TAGS)
        assert "Bucket tags cannot be greater than 50" in exc.value.message
    else:
        assert len(tagxml.parse_xml(body, max_tags=tagging.MAX_BUCKET_TAGS)) == count


def test_the_stores_answer_is_taken_as_it_is() -> None:
    body = doc(("aws:cloudformation:stack", "s"), *[(f"k{i}", "v") for i in range(10)])
    assert len(tagxml.parse_xml(body, checked=False)) == 11


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("", ()),
        ("a=1", (Tag("a", "1"),)),
        ("a=1&b=", (Tag("a", "1"), Tag("b", ""))),
        ("a", (Tag("a", ""),)),
        ("owner=alice%40example.com", (Tag("owner", "alice@example.com"),)),
        ("n%20m=x+y", (Tag("n m", "x y"),)),
        ("k=%C3%A9", (Tag("k", "é"),)),
        ("k=a%3Db%2Bc", (Tag("k", "a=b+c"),)),
    ],
)
def test_headers_parse(header: str, tags: tuple[Tag, ...]) -> None:
    assert tagging.parse_header(header) == tags
    assert tagging.parse_header(tagging.header_value(tags)) == tags  # round trip


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("&".join(f"k{i}=v" for i in range(11)), "InvalidTag"),
        ("k=" + "v" * 257, "InvalidTag"),
        ("k" * 129 + "=v", "InvalidTag"),
        ("aws:x=1", "InvalidTag"),
        ("=v", "InvalidTag"),
        ("k=a%2Ab", "InvalidTag"),
        ("k%23=v", "InvalidTag"),
        ("a=1&a=2", "InvalidArgument"),
        ("k=%FF", "InvalidArgument"),
        ("k=caf\u20ac", "InvalidArgument"),  # not URL-encoded: no latin-1 byte form
    ],
)
def test_bad_headers_are_refused(header: str, code: str) -> None:
    with pytest.raises(errors.S3Error) as exc:
        tagging.parse_header(header)
    assert exc.value.error_code == code


@pytest.mark.parametrize(
    ("value", "chosen"), [(None, "COPY"), ("copy", "COPY"), ("REPLACE", "REPLACE")]
)
def test_directive(value: str | None, chosen: str) -> None:
    assert tagging.directive(value) == chosen


def test_unknown_directive_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument):
        tagging.directive("MERGE")


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("[REDACTED:EMAIL]", "_REDACTED:EMAIL_"),
        ("************1111", "____________1111"),
        ("tok_3f2a", "tok_3f2a"),
        ("café ok", "café ok"),
    ],
)
def test_rewritten_values_are_made_valid_tags(text: str, safe: str) -> None:
    assert tagging.as_allowed(text) == safe
    assert tagging.allowed(safe)
