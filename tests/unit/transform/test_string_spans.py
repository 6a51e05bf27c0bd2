"""Which JSON strings hold a prefilter hit: the quote-counting fast path
(records without an escaped backslash) against the in-order walk over every
string, on hand-made edge cases and on hits placed at every byte of records
full of escapes; and whole records through the engine."""

from __future__ import annotations

import json

import pytest

from s3gate.transform.jsonvalue import _strings_by_quotes, _strings_in_order, _strings_with_hits
from tests.unit.transform.helpers import example, mask

Hits = list[tuple[int, int]]


def _at(raw: bytes, needle: bytes, det: int = 0, extra: int = 0) -> tuple[int, int]:
    """A hit of detector `det` whose last byte is the last of `needle`."""
    return (det, raw.index(needle) + len(needle) + extra)


R1 = b'{"a": "x\\"y", "b": [1, "mid \\"q\\" secret"], "c": "tail"}'
XY, MID, TAIL = b'"x\\"y"', b'"mid \\"q\\" secret"', b'"tail"'
CASES: list[tuple[str, bytes, Hits, list[bytes] | None]] = [
    ("hit after escaped quotes", R1, [_at(R1, b"secret")], [MID]),
    ("hit on a closing quote", R1, [_at(R1, b'"tail"')], [TAIL]),
    ("hit on an opening quote", R1, [_at(R1, b'"t')], [TAIL]),
    ("hit on an escaped quote", R1, [_at(R1, b'x\\"')], [XY]),
    ("hits in two strings", R1, [_at(R1, b"x\\"), _at(R1, b"tail")], [XY, TAIL]),
    ("two hits in one string", R1, [_at(R1, b"mid"), _at(R1, b"secret")], [MID]),
    ("hit in a key", R1, [_at(R1, b'"b')], [b'"b"']),
    ("hit in a number", R1, [_at(R1, b"[1")], None),
    ("hit on a colon", R1, [_at(R1, b'"a":')], None),
    ("string then number", R1, [_at(R1, b"x\\"), _at(R1, b"[1")], None),
    ("hit on the byte after a root number", b"4111111111111111", [(0, 17)], None),
    ("hit on the byte after a root string", b'"x"', [(0, 4)], None),
    ("root string", b'"a \\"b\\" c"', [(0, 9)], [b'"a \\"b\\" c"']),
]


@pytest.mark.parametrize(("what", "raw", "hits", "strings"), CASES)
def test_strings_holding_hits(
    what: str, raw: bytes, hits: Hits, strings: list[bytes] | None
) -> None:
    json.loads(raw)  # the cases are valid JSON, as the engine guarantees
    fast = _strings_by_quotes(raw, hits)
    assert fast == _strings_in_order(raw, hits), what
    assert (None if fast is None else [raw[s:e] for s, e, _ in fast]) == strings, what


def test_escaped_backslash_takes_the_walk() -> None:
    # `\\"` is an escaped backslash, then the closing quote: counting
    # backslash-quote pairs would call that quote escaped.
    raw = b'{"a": "dir\\\\", "b": "secret"}'
    hits = [_at(raw, b"secret")]
    assert _strings_with_hits(raw, hits) == _strings_in_order(raw, hits)
    assert [raw[s:e] for s, e, _ in _strings_with_hits(raw, hits) or []] == [b'"secret"']


def test_a_hit_at_every_byte_agrees() -> None:
    record = {
        'k"ey': 'v "quoted" \n\t\u00e9 \u2028',
        "n": [1, -2.5e3, True, None, {"x": '"', "y": ""}],
        "t": "end",
    }
    for raw in (json.dumps(record).encode(), json.dumps(record, ensure_ascii=False).encode()):
        for end in range(1, len(raw) + 1):
            hits = [(3, end)]
            assert _strings_by_quotes(raw, hits) == _strings_in_order(raw, hits), end


def test_masked_through_the_engine() -> None:
    record = {
        "note": 'he said "call me" at home',
        "args": '{"to": "alice@example.com", "q": "\\"x\\""}',
        "ok": "bob@example.org",
    }
    out, _ = mask(example("write-default"), json.dumps(record).encode() + b"\n")
    masked = json.loads(out)
    assert "alice@example.com" not in out.decode() and "bob@example.org" not in out.decode()
    assert masked["note"] == record["note"]
    assert masked["ok"].startswith("tok_")


# Records whose sensitive values sit next to (or are spelled with) JSON
# escapes, written by hand so the escapes are exactly these bytes.
ESCAPED_RECORDS = [
    ("after escaped quotes", rb'{"q": "\"x\" \"y\"", "to": "mail \"alice@example.com\" now"}'),
    ("after a unicode escape", rb'{"n": "caf\u00e9 alice@example.com"}'),
    ("spelled with \\u0040", rb'{"a": "x", "to": "alice\u0040example.com"}'),
    ("spelled with \\u0041", rb'{"k": "\u0041KIAIOSFODNN7EXAMPLE"}'),
    ("split by an escape", rb'{"k": "AKIAIOSF\u004fDNN7EXAMPLE"}'),
    ("in a key after escapes", rb'{"\"q\"": 1, "alice@example.com": 2}'),
]


@pytest.mark.parametrize(("what", "raw"), ESCAPED_RECORDS)
def test_values_beside_or_inside_escapes_are_masked(what: str, raw: bytes) -> None:
    out, _ = mask(example("write-default"), raw + b"\n")
    text = json.dumps(json.loads(out))
    assert "alice@example.com" not in text and "AKIAIOSFODNN7EXAMPLE" not in text, what
    assert "tok_" in text or "[REDACTED:" in text, what
