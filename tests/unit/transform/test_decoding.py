"""Inspect or refuse: every form a body can take on the wire is either seen
through and masked, or refused — never stored raw.

Each row writes the canaries of tests/canaries.py in one form (text
encoding, content codings, chunking) through the write-default profile and
checks, with decoders that are not the gateway's, that no canary survives in
any form of the output, and that the output keeps the form it came in.
"""

from __future__ import annotations

import codecs
import gzip
import json
import sys
import zlib
from collections.abc import Callable

import brotli
import pytest

from s3gate import errors
from s3gate.transform.charset import NotText, declared_charset, detect
from s3gate.transform.compression import sniff_coding
from s3gate.transform.errors import (
    CodingTooDeep,
    InflationLimitExceeded,
    MaskingBlocked,
    UnreadableContent,
    UnsupportedCoding,
)
from s3gate.transform.settings import Limits
from tests.canaries import CARD, EMAIL, jsonl, leaks, record
from tests.unit.transform.helpers import example, mask, mask_chunks, split

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

WRITE = example("write-default")
MiB = 1024 * 1024

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}
DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": zstd.decompress,
}
TEXT = {
    "utf-8": lambda s: s.encode("utf-8"),
    "utf-8-bom": lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
    "utf-16": lambda s: s.encode("utf-16"),  # BOM, native order
    "utf-16-le": lambda s: s.encode("utf-16-le"),  # no BOM
    "utf-16-be": lambda s: s.encode("utf-16-be"),
    "utf-32": lambda s: s.encode("utf-32"),
    "utf-32-be": lambda s: s.encode("utf-32-be"),
}
SHAPES = {
    "jsonl": ("application/x-ndjson", "t.jsonl", jsonl(3).decode()),
    "json": ("application/json", "t.json", json.dumps({"records": [record(0), record(1)]})),
    "text": ("text/plain", "t.txt", "note: mail " + EMAIL + " card " + CARD + "\n"),
}


def _encode(text: str, charset: str, codings: list[str]) -> bytes:
    data = TEXT[charset](text)
    for coding in codings:  # applied in Content-Encoding order
        data = COMPRESS[coding](data)
    return data


def _decode(data: bytes, codings: list[str]) -> bytes:
    for coding in reversed(codings):
        data = DECOMPRESS[coding](data)
    return data


CASES = [
    (shape, charset, codings, declared)
    for shape in SHAPES
    for charset in TEXT
    for codings in ([], ["gzip"], ["deflate"], ["br"], ["zstd"], ["deflate", "gzip"])
    for declared in (True, False)
    if declared or not codings or codings[-1] in ("gzip", "zstd", "deflate")
]


@pytest.mark.parametrize(("shape", "charset", "codings", "declared"), CASES)
@pytest.mark.parametrize("chunk", [2, 4096])
def test_every_form_is_seen_through_and_keeps_its_form(
    shape: str, charset: str, codings: list[str], declared: bool, chunk: int
) -> None:
    ctype, key, text = SHAPES[shape]
    body = _encode(text, charset, codings)
    assert leaks(body), "the test body must carry the canaries"
    encoding = ", ".join(codings) if declared and codings else None
    out, summary = mask_chunks(
        [WRITE], split(body, chunk), content_type=ctype, key=key, encoding=encoding
    )
    assert leaks(out) == [], (shape, charset, codings)
    # The same form comes back: the same codings and the same text encoding.
    assert list(summary.codings) == list(reversed(codings))
    plain = _decode(out, codings)
    expected, _ = mask([WRITE], text.encode(), content_type=ctype, key=key)
    assert plain == TEXT[charset](expected.decode())


@pytest.mark.parametrize("chunk", [1, 2, 3, 700])
def test_undeclared_gzip_is_found_however_the_body_is_cut(chunk: int) -> None:
    body = gzip.compress(jsonl(50))
    out, summary = mask_chunks([WRITE], split(body, chunk), content_type=None, key="x")
    assert summary.codings == ("gzip",) and leaks(out) == []


@pytest.mark.parametrize(
    "layers",
    [["gzip", "gzip"], ["zstd", "gzip"], ["deflate", "deflate"], ["gzip", "zstd", "gzip"]],
)
def test_nested_compression_is_undone(layers: list[str]) -> None:
    body = _encode(jsonl(3).decode(), "utf-8", layers)
    for declared in (None, layers[-1]):
        out, summary = mask([WRITE], body, key="t.jsonl", encoding=declared)
        assert leaks(out) == [] and list(summary.codings) == list(reversed(layers))
        assert _decode(out, layers).count(b"\n") == 3


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    body = _encode(jsonl(1).decode(), "utf-8", ["gzip"] * 4)
    with pytest.raises(CodingTooDeep) as info:
        mask([WRITE], body, key="t.jsonl")
    assert info.value.error_code == "InvalidArgument"
    with pytest.raises(CodingTooDeep):
        mask([WRITE], body, key="t.jsonl", encoding="gzip, gzip, gzip, gzip")
    out, _ = mask([WRITE], body, key="t.jsonl", limits=Limits(max_coding_layers=4))
    assert leaks(out) == []


@pytest.mark.parametrize(
    ("encoding", "code"),
    [
        ("compress", "InvalidArgument"),
        ("gzip, compress", "InvalidArgument"),
        ("x-rot13", "InvalidArgument"),
        ("bzip2", "InvalidArgument"),
    ],
)
def test_codings_it_cannot_undo_are_refused_naming_the_coding(encoding: str, code: str) -> None:
    with pytest.raises(UnsupportedCoding) as info:
        mask([WRITE], jsonl(1), encoding=encoding)
    assert info.value.error_code == code
    assert encoding.split(",")[-1].strip() in info.value.message
    assert EMAIL not in info.value.message


def test_a_profile_that_lets_binary_pass_stores_unknown_codings_raw() -> None:
    passing = example("write-default")
    raw = b"\x00\x01 not inspectable"
    from tests.unit.transform.helpers import profile

    lenient = profile("content: {binary: pass}\ndetectors: {email: redact}")
    out, summary = mask([lenient], raw, encoding="compress")
    assert out == raw and summary.content_kind == "binary"
    with pytest.raises(UnsupportedCoding):
        mask([passing], raw, encoding="compress")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "zstd", "br"])
def test_a_decompression_bomb_is_refused_early(coding: str) -> None:
    bomb = COMPRESS[coding](b"\n" * (256 * MiB))  # a few hundred KiB at most
    assert len(bomb) < 2 * MiB
    chunks = split(bomb, 64 * 1024)
    with pytest.raises(InflationLimitExceeded) as info:
        mask_chunks([WRITE], chunks, encoding=coding, key="t.jsonl")
    assert info.value.error_code == "EntityTooLarge"
    assert "max_inflation_ratio" in info.value.message


def test_the_inflated_size_limit_holds_below_the_ratio() -> None:
    body = gzip.compress(jsonl(2000))  # ~500 KB of JSONL
    limits = Limits(max_inflated_bytes=100_000)
    with pytest.raises(InflationLimitExceeded) as info:
        mask([WRITE], body, encoding="gzip", limits=limits)
    assert "max_inflated_bytes" in info.value.message


def test_small_bodies_may_inflate_by_any_ratio() -> None:
    body = gzip.compress(b"{}\n" * 100_000)  # 300 KB from ~1 KB
    out, _ = mask([WRITE], body, encoding="gzip")
    assert gzip.decompress(out) == b"{}\n" * 100_000


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b"\xff\xfe\x00\xd8", "utf-16"),  # a lone surrogate
        (b'{"a": "\xc3\x28"}', "utf-8"),  # declared UTF-8, not UTF-8
        ("données".encode("latin-1"), "utf-8"),
        (b"abc", "x-no-such-charset"),
        (b"abc", "rot13"),  # not a text encoding
    ],
)
def test_bytes_that_are_not_text_in_their_encoding_follow_the_binary_rule(
    body: bytes, charset: str
) -> None:
    with pytest.raises(MaskingBlocked) as info:
        mask([WRITE], body, content_type=f"text/plain; charset={charset}")
    assert info.value.error_code == "AccessDenied"


@pytest.mark.parametrize(
    ("charset", "greeting"),
    [
        ("iso-8859-1", "Grüße von"),
        ("cp1252", "Grüße von"),
        ("utf-16", "Grüße von"),
        ("utf-7", "Grüße von"),
        ("shift_jis", "こんにちは"),
        ("cp500", "Grüße von"),  # EBCDIC: no ASCII byte means what it means in ASCII
    ],
)
def test_declared_charsets_are_transcoded_both_ways(charset: str, greeting: str) -> None:
    body = f"{greeting} {EMAIL}\n".encode(charset)
    out, summary = mask([WRITE], body, content_type=f"text/plain; charset={charset}")
    assert EMAIL not in out.decode(charset) and f"{greeting} tok_" in out.decode(charset)
    assert summary.charset.startswith(codecs.lookup(charset).name)


@pytest.mark.parametrize(
    ("head", "charset", "codec", "bom"),
    [
        (codecs.BOM_UTF8 + b"{", None, "utf-8", codecs.BOM_UTF8),
        (codecs.BOM_UTF32_LE + b"{\x00\x00\x00", "utf-16", "utf-32-le", codecs.BOM_UTF32_LE),
        (codecs.BOM_UTF16_BE + b"\x00{", None, "utf-16-be", codecs.BOM_UTF16_BE),
        (b"{\x00\x00\x00", None, "utf-32-le", b""),
        (b"\x00\x00\x00{", None, "utf-32-be", b""),
        (b"\x00{\x00\x22", None, "utf-16-be", b""),
        (b"{\x00\x22\x00", None, "utf-16-le", b""),
        (b"{\x00", None, "utf-16-le", b""),
        (b"{\x00\x22\x00", "utf-16", "utf-16-le", b""),
        (b'{"a', "US-ASCII", "utf-8", b""),
        (b'{"a', "latin1", "iso8859-1", b""),
    ],
)
def test_encoding_detection_table(head: bytes, charset: str | None, codec: str, bom: bytes) -> None:
    found = detect(head, charset.lower() if charset else None)
    assert found is not None and (found.codec, found.bom) == (codec, bom)


def test_plain_utf8_without_a_charset_is_read_as_it_is() -> None:
    assert detect(b'{"a": 1}', None) is None
    with pytest.raises(NotText):
        detect(b"abc", "no-such")


@pytest.mark.parametrize(
    "charset",
    ["idna", "punycode", "unicode_escape", "raw_unicode_escape", "rot13", "base64"],
)
def test_codecs_no_reader_applies_to_text_cannot_be_declared(charset: str) -> None:
    with pytest.raises(NotText):
        detect(b"abc", charset)


def test_utf16_without_a_mark_needs_its_zero_bytes_to_tell_the_order() -> None:
    """RFC 2781 reads it big-endian, browsers and Python little-endian: a body
    the two would read differently is not inspected one way."""
    with pytest.raises(NotText):
        detect("中x".encode("utf-16-le"), "utf-16")


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/plain; charset=UTF-16LE", "utf-16le"),
        ('text/plain; charset="utf-8"', "utf-8"),
        ('text/html; a="; charset=utf-8"; charset=utf-16le', "utf-16le"),
        ("text/plain; charset=utf-8; charset=utf-16le", "(several charset parameters)"),
        ("text/plain", None),
        ("text/plain; format=flowed", None),
    ],
)
def test_charset_parameters_are_parsed_as_mime_does(content_type: str, charset: str | None) -> None:
    assert declared_charset(content_type) == charset


@pytest.mark.parametrize(
    ("head", "complete", "coding"),
    [
        (gzip.compress(b"x"), True, "gzip"),
        (zstd.compress(b"x"), True, "zstd"),
        (zlib.compress(b"hello " * 50), True, "deflate"),
        (zlib.compress(b"hello " * 50)[:40], False, "deflate"),
        (b"x^2 + y^2 = r^2, as text", True, None),  # a zlib-looking header, but text
        (b"\x1f\x8b", False, None),  # not enough to say
        (brotli.compress(b"hello"), True, None),  # no magic: binary rule
        (b"plain text", True, None),
    ],
)
def test_sniffing_table(head: bytes, complete: bool, coding: str | None) -> None:
    assert sniff_coding(head, complete) == coding


def test_corrupt_compression_is_refused_not_passed() -> None:
    for coding in COMPRESS:
        packed = COMPRESS[coding](jsonl(20))
        with pytest.raises(UnreadableContent):
            mask([WRITE], packed[: len(packed) // 2], encoding=coding)
        with pytest.raises(errors.S3Error):
            mask([WRITE], b"\x00garbage\xff" * 10, encoding=coding)


def test_summary_names_the_form() -> None:
    body = gzip.compress("{}\n".encode("utf-16"))
    _, summary = mask([WRITE], body, encoding="gzip")
    assert summary.as_dict()["codings"] == ["gzip"] and summary.charset == "utf-16-le"
    assert "(gzip, utf-16-le)" in summary.explain()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json; charset=utf-16", jsonl(2)),  # UTF-8 bytes claiming UTF-16
        ("text/plain; charset=utf-16le", jsonl(2)),
        ("text/plain; charset=utf-32", jsonl(3)),
        ("text/plain; charset=cp500", jsonl(2)),  # ASCII claiming EBCDIC
        ("text/plain", codecs.BOM_UTF16_LE + jsonl(2)),  # a mark in front of UTF-8
        ("application/x-ndjson", codecs.BOM_UTF32_BE + jsonl(2)),
    ],
)
def test_a_body_whose_raw_bytes_contradict_its_encoding_is_refused(
    content_type: str, body: bytes
) -> None:
    """Masked as UTF-16 it would look clean, yet a reader that ignores the
    charset (or strips what it cannot decode) reads the secrets in the raw
    bytes: refused."""
    with pytest.raises(MaskingBlocked) as info:
        mask([WRITE], body, content_type=content_type)
    # Either not valid in that encoding at all, or valid but contradicted.
    assert info.value.rule_ids in (("content:encoding-mismatch",), ("content:binary",))


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "cp500", "utf-16-le"])
def test_genuine_bodies_in_those_encodings_pass_the_raw_check(charset: str) -> None:
    body = jsonl(3).decode().encode(charset)
    out, _ = mask([WRITE], body, content_type=f"text/plain; charset={charset}")
    assert leaks(out) == [] and out.decode(charset).count("\n") == 3
