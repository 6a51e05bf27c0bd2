"""Red-team findings against the inspect-or-refuse layer (issue 11).

Each case is a body a hostile trace writer sends through the shipped
`write-default` profile, and the standard reader that then shows the
canaries: `json.loads` on the bytes (which detects UTF-16 by its own rule),
Python's `bytes.decode("utf-16")`, a browser (WHATWG: a `charset` parameter
parsed with quoted strings, the `utf-16` label meaning little-endian, HTML
character references, a `<meta charset>`). The rule under test: the write is
refused with an S3 error, or no canary is in what the reader decodes from
the stored bytes. These tests FAIL until the gateway closes each hole.
"""

from __future__ import annotations

import email.message
import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from s3gate import errors
from tests.canaries import ANTHROPIC, AWS_KEY, CANARIES, CARD, EMAIL, record
from tests.unit.transform.helpers import example, mask, mask_chunks

SECRET = f"x {EMAIL} {ANTHROPIC} {AWS_KEY} {CARD} y"


def _json_loads(out: bytes, content_type: str | None) -> str:
    # json.loads(bytes) picks UTF-8/16/32 itself (json.detect_encoding).
    return repr(json.loads(out))


def _decode_utf16(out: bytes, content_type: str | None) -> str:
    # Python's "utf-16" without a mark is the machine's order (little-endian
    # on every platform the gateway runs on), as WHATWG's `utf-16` label is.
    return out.decode("utf-16-le")


def _browser_charset(out: bytes, content_type: str | None) -> str:
    """The charset a MIME parser that honours quoted strings reads (the
    WHATWG MIME type parser, Python's email package)."""
    msg = email.message.Message()
    msg["content-type"] = content_type or ""
    charset = msg.get_content_charset() or "utf-8"
    return out.decode({"utf-16": "utf-16-le"}.get(charset, charset))


def _html_text(out: bytes, content_type: str | None) -> str:
    return html.unescape(out.decode())


def _iso2022jp(out: bytes, content_type: str | None) -> str:
    # What a browser shows for a page with <meta charset="iso-2022-jp">.
    return out.decode("iso2022_jp")


@dataclass(frozen=True)
class Case:
    body: bytes
    content_type: str | None
    key: str
    reader: Callable[[bytes, str | None], str]


def _html_escaped(text: str) -> bytes:
    return (
        text.replace("@", "&#64;")
        .replace("AKIA", "AKI&#65;")
        .replace("sk-ant", "sk&#45;ant")
        .replace("4111", "&#52;111")
        .encode()
    )


def _iso2022_split(text: str) -> bytes:
    # ESC ( B ("switch to ASCII") inside each canary: a no-op for the decoder.
    # Cut where neither half is a detectable value.
    esc = "\x1b(B"
    for canary, cut in ((EMAIL, EMAIL.index("@") + 1), (ANTHROPIC, 13), (AWS_KEY, 4), (CARD, 8)):
        text = text.replace(canary, canary[:cut] + esc + canary[cut:])
    return ('<meta charset="iso-2022-jp">' + text).encode()


CASES: dict[str, Case] = {
    # A top-level JSON string in UTF-16 without a mark whose second character
    # is not ASCII: json.loads detects UTF-16 from one zero byte
    # (json.detect_encoding), the gateway's RFC 4627 four-byte pattern does
    # not, so the bytes are read as UTF-8 (valid, with NULs) and scanned raw.
    "utf-16-be json string, no BOM": Case(
        json.dumps("\u4e2d" + SECRET, ensure_ascii=False).encode("utf-16-be"),
        "application/json",
        "t.json",
        _json_loads,
    ),
    "utf-16-le json string, no BOM, no content type": Case(
        json.dumps("\u4e2d" + SECRET, ensure_ascii=False).encode("utf-16-le"),
        None,
        "t.json",
        _json_loads,
    ),
    # A declared ASCII-compatible charset wins over the zero pattern, but
    # json.loads ignores headers: a UTF-16 JSON object labelled utf-8 is
    # valid UTF-8 (ASCII and NULs), malformed as JSON, falls back to the text
    # masker, which sees "a\0b\0" and finds nothing.
    "utf-16-le json object labelled charset=utf-8": Case(
        json.dumps(record()).encode("utf-16-le"),
        "application/json; charset=utf-8",
        "t.json",
        _json_loads,
    ),
    "utf-16-le json object labelled charset=iso-8859-1": Case(
        json.dumps(record()).encode("utf-16-le"),
        "application/json; charset=iso-8859-1",
        "t.json",
        _json_loads,
    ),
    "utf-16-le jsonl labelled charset=utf-8": Case(
        json.dumps(record()).encode("utf-16-le"),
        "application/x-ndjson; charset=utf-8",
        "t.jsonl",
        _json_loads,
    ),
    # charset=utf-16 without a mark: the gateway decodes big-endian (RFC
    # 2781) when the first four bytes show no ASCII zero pattern; browsers
    # (WHATWG) and Python's "utf-16" codec read little-endian.
    "charset=utf-16, no BOM, little-endian, non-ASCII first": Case(
        ("\u4e2d" + SECRET).encode("utf-16-le"),
        "text/plain; charset=utf-16",
        "t.txt",
        _decode_utf16,
    ),
    "text/html charset=utf-16, no BOM, little-endian": Case(
        ("\u4e2d" + SECRET).encode("utf-16-le"),
        "text/html; charset=utf-16",
        "t.html",
        _decode_utf16,
    ),
    # `declared_charset` splits on ";" inside a quoted parameter value, so
    # it reads charset=utf-8 where a MIME parser reads charset=utf-16le.
    "quoted parameter hides the real charset": Case(
        SECRET.encode("utf-16-le"),
        'text/html; a="; charset=utf-8"; charset=utf-16le',
        "t.html",
        _browser_charset,
    ),
    # HTML is masked as plain text: character references are not undone,
    # a browser shows (and copies) the canaries.
    "text/html character references": Case(
        _html_escaped(SECRET), "text/html", "t.html", _html_text
    ),
    "html by extension, character references": Case(
        _html_escaped(SECRET), None, "page.html", _html_text
    ),
    # No charset in the header; the page's <meta> picks ISO-2022-JP, whose
    # escape sequences are valid UTF-8 bytes that split every canary.
    "html meta charset iso-2022-jp, escapes inside canaries": Case(
        _iso2022_split(SECRET), "text/html", "t.html", _iso2022jp
    ),
    # Card numbers as JSON numbers other than a plain integer.
    "card as a JSON float": Case(
        b'{"cc":4111111111111111.0}', "application/json", "t.json", _json_loads
    ),
    "card as a negative JSON integer": Case(
        b'{"cc":-4111111111111111}', "application/json", "t.json", _json_loads
    ),
    "card as a JSON number with an exponent": Case(
        b'{"cc":4111111111111111e0}', "application/json", "t.json", _json_loads
    ),
    "card as a JSONL float": Case(
        b'{"cc":4111111111111111.0}\n', "application/x-ndjson", "t.jsonl", _json_loads
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_or_no_canary_in_what_a_reader_decodes(name: str) -> None:
    case = CASES[name]
    assert any(c in case.reader(case.body, case.content_type) for c in CANARIES), "bad case"
    try:
        out, _ = mask(
            example("write-default"), case.body, content_type=case.content_type, key=case.key
        )
    except errors.S3Error:
        return  # refused: nothing stored
    try:
        seen = case.reader(out, case.content_type)
    except (UnicodeError, ValueError):
        return  # the stored bytes no longer decode that way: nothing shown
    assert [c for c in CANARIES if c in seen] == [], name


def test_many_findings_on_one_line_cost_linear_time() -> None:
    """`resolve` compares each finding with every finding kept so far: a
    line with N findings costs N^2 (16,000 emails in 144 KB: ~16 s of a
    masking worker; 32,000 in 288 KB: ~104 s). A 1 MiB record of them
    holds a worker for about half an hour."""
    body = b"u@ex.com " * 16_000
    started = time.process_time()
    out, _ = mask(example("write-default"), body, content_type="text/plain", key="t.txt")
    spent = time.process_time() - started
    assert b"u@ex.com" not in out
    assert spent < 3.0, f"{spent:.1f} s of CPU for {len(body)} bytes"


@pytest.mark.parametrize("depth", [100_000])
@pytest.mark.parametrize(("ctype", "key"), [("application/json", "t.json")])
def test_deeply_nested_json_is_a_client_error_not_an_internal_error(
    depth: int, ctype: str, key: str
) -> None:
    """`[[[[…` a client sent is malformed input (the profile's
    malformed_json rule, or a 400), not a masker crash answered 500."""
    body = b"[" * depth + b"]" * depth
    try:
        mask_chunks([example("write-default")], [body], content_type=ctype, key=key)
    except errors.S3Error as exc:
        assert exc.http_status < 500, (exc.error_code, exc.http_status)


@pytest.mark.parametrize("charset", ["idna", "punycode"])
def test_a_client_chosen_charset_is_a_client_error_not_an_internal_error(charset: str) -> None:
    """`charset=` accepts any Python text codec, including ones that are not
    text encodings a reader knows (idna, punycode, unicode_escape): their
    UnicodeError ends as a 500 InternalError (and escapes `mask_bytes`)."""
    body = b'{"a":"' + b"x" * 100 + b'"}\n'
    try:
        mask_chunks(
            [example("write-default")],
            [body],
            content_type=f"text/plain; charset={charset}",
            key="t.txt",
        )
    except errors.S3Error as exc:
        assert exc.http_status < 500, (exc.error_code, exc.http_status)
