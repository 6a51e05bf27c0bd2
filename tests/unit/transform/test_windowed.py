"""The windowed detector run (`Detector.find_near`) against the full scan.

The oracle is the engine itself with every detector scanning whole strings
(`find_near` replaced by `find`): the windowed engine must give the same
bytes and the same counts on the trace corpora and on hostile records, and
each built-in detector's windowed run must give the full scan's spans for
every example, wherever it sits in a string.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from s3gate.transform import detectors as detectors_mod
from s3gate.transform.detectors import NEAR_MIN_CHARS, Detector, DetectorSpec, Span
from s3gate.transform.errors import HiddenContent
from s3gate.transform.library import BUILTINS
from s3gate.transform.matcher import string_positions
from s3gate.transform.regexshape import shape
from s3gate.transform.scanner import Entry, Scanner
from tests.tracegen import generate
from tests.unit.transform.helpers import example, mask


def _full(self: Detector, text: str, near: list[int], key: str | None = None) -> list[Span]:
    return self.find(text, key)


# -- the pattern's shape ------------------------------------------------------

SHAPES = [
    # pattern, flags, must be breakers, must not be breakers, lookahead
    (r"[a-z]+@[a-z]+", re.ASCII, " \"'\n", "az@", 0),
    (r"[a-z]+", re.ASCII | re.IGNORECASE, " ", "aAzZ", 0),
    (r"(?i)[a-z]+", re.ASCII, " ", "aAzZ", 0),
    (r"x(?i:k)", re.ASCII, "y", "xkK", 0),
    (r"\d+(?![\w-])", re.ASCII, "a_", "09", 1),
    (r"\d+(?=ab(?=cde))", re.ASCII, "a", "0", 5),
    (r"\d+(?=a*)", re.ASCII, "a", "0", None),
    (r"(?<=ab)\d+", re.ASCII, "ab", "5", 0),
    (r"[^\n]{0,3}\d", re.ASCII, "\n", " a5", 0),
    (r"(\d)-\1", re.ASCII, "a", "5-", 0),
    (r"a.b", re.ASCII, "\n", " x", 0),
    (r"a[^x]b", re.ASCII, "", "\n y", 0),
    (r"\s+", re.ASCII, "a", " \t\n", 0),
    (r"\W", re.ASCII, "a_9", " -", 0),
]


@pytest.mark.parametrize(("pattern", "flags", "breaks", "keeps", "ahead"), SHAPES)
def test_shape(pattern: str, flags: int, breaks: str, keeps: str, ahead: int | None) -> None:
    form = shape(pattern, flags)
    for char in breaks:
        assert ord(char) in form.breakers, (pattern, char)
    for char in keeps:
        assert ord(char) not in form.breakers, (pattern, char)
    assert form.lookahead == ahead
    assert form.min_width > 0


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [
        (r"(?i)\u212a", 0),  # caseless non-ASCII, Unicode mode: folds onto `k`
        (r"(?i)[\u0100-\u0200]", 0),  # folds onto `s`
        (r"[a-z]*", re.ASCII),  # empty matches: finditer's rules for them are not modelled
        (r"a|", re.ASCII),
    ],
)
def test_shape_gives_up(pattern: str, flags: int) -> None:
    form = shape(pattern, flags)
    assert not form.breakers or form.min_width == 0
    if flags & re.ASCII:  # as detectors compile
        spec = DetectorSpec(id="x", label="X", pattern=pattern, builtin=False)
        assert not Detector(spec).windowed


# -- hit positions in a JSON string ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "ascii"),
    [
        ("plain text with a@b.example", True),
        ('line one\nline "two"\ta@b.example', True),
        ("caf\u00e9 \u00fcber a@b.example", False),
        ("\u00e9\u00e9\u00e9\nx a@b.example", False),
    ],
)
def test_string_positions_map_raw_ends_to_text(value: str, ascii: bool) -> None:
    token = json.dumps(value, ensure_ascii=ascii).encode()
    # A hit ending right after each character of the text.
    raw_ends, text_pos = [], []
    for end in range(1, len(token)):
        if _closes(token[:end]):
            raw_ends.append(end)
            text_pos.append(len(json.loads(token[:end] + b'"')))
    near = string_positions(token, [(3, end) for end in raw_ends])
    assert near is not None
    assert near[3] == text_pos


def _closes(prefix: bytes) -> bool:
    try:
        json.loads(prefix + b'"')
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "token", [rb'"a \u0040 b"', rb'"back\\slash"', rb'"\ud83d\ude00 a@b.example"']
)
def test_string_positions_give_up_on_long_escapes(token: bytes) -> None:
    assert string_positions(token, [(0, len(token) - 1)]) is None


# -- each built-in detector, windowed vs full --------------------------------------

FILLERS = [
    "the quick brown fox jumps over the lazy dog ",
    "1234 5678 9012 3456 7890 ",
    "user@host a.b.c 10.0.0.1 +44 20 ",
    "AKIAXXXXXXXXXXXXXXXX eyJhbGciOi.eyJzdWIi. ",
    "password = 'hunter2' token: abc ",
    "-----BEGIN PRIVATE KEY-----\nMIIB\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "0000000000000000000000000000000000000000000000000000000000000000",
]


def _windowed_equals_full(det: Detector, scanner: Scanner, text: str) -> None:
    for ascii in (True, False):
        token = json.dumps(text, ensure_ascii=ascii).encode()
        hits = scanner.scan(token)
        near = string_positions(token, [(0, end) for _, end in hits])
        if near is None or 0 not in near:
            continue
        assert det.find_near(text, near[0]) == det.find(text), (det.id, text)


@pytest.mark.parametrize("spec", list(BUILTINS.values()), ids=lambda s: s.id)
def test_builtin_windowed_equals_full(spec: DetectorSpec) -> None:
    det = Detector(spec)
    scanner = Scanner([Entry(p, ("detector", 0)) for p in det.prefilters()])
    rng = random.Random(spec.id)
    samples = spec.examples.positive + spec.examples.negative
    for sample in samples:
        for _ in range(12):
            parts = [rng.choice(FILLERS) for _ in range(rng.randrange(1, 8))]
            parts.insert(rng.randrange(len(parts) + 1), sample)
            if rng.random() < 0.5:  # several values in one string
                parts.insert(rng.randrange(len(parts) + 1), rng.choice(samples))
            sep = rng.choice(["", " ", "\n", '"', "\t"])
            text = sep.join(parts)
            while len(text) < NEAR_MIN_CHARS:
                text = rng.choice(FILLERS) + text
            _windowed_equals_full(det, scanner, text)


def test_windowed_runs_on_builtins() -> None:
    """The fast path is taken: the detectors that dense traces hit most."""
    windowed = {spec.id for spec in BUILTINS.values() if Detector(spec).windowed}
    assert {"email", "phone", "credit_card", "us_ssn", "iban", "jwt", "url_password"} <= windowed


# -- the engine, windowed vs the full-scan oracle -----------------------------------

LONG = "x" * 5000
HOSTILE = [
    # Escapes that hide a value's left context or text from the prefilters
    # (`\f`, `\b`, `\/`), in strings where another value did hit.
    {"m": "4111111111111111 " + LONG[:300] + "\f5500000000000004 " + LONG[:300]},
    {"m": "alice@example.com " + LONG[:300] + "\b+1 415 555 0132 " + LONG[:300]},
    {"m": "https://a:b@h.example.com/ " + LONG[:300] + " https:/\u002f" + LONG[:100]},
    # A rejected card (Luhn) whose digits run into a real one: the full scan
    # consumes the rejected match first.
    {"m": "n " + "4111111111111112 4111111111111111 " * 3 + LONG},
    # A value right at the region's edge: NEAR_SLACK characters from the hit.
    {"m": LONG[:200] + "a" * 60 + "@example.com" + LONG[:300]},
    {"m": LONG[:200] + "alice@example.com" + "." * 9 + "bob@example.org " + LONG},
    # Overlapping detectors: URL password vs email, card digits in an IBAN run.
    {"m": LONG[:300] + " https://u:pw@db.example.com/x GB82WEST12345698765432 " + LONG[:300]},
    # Escapes: \n and \" around values, \u0040 hiding an at sign.
    {"m": LONG[:200] + '\n"alice@example.com"\n\t+1 415 555 0132\n' + LONG[:200]},
    # Non-ASCII before the value (positions count characters, not bytes).
    {"m": "\u00e9" * 300 + " alice@example.com " + "\u00fc" * 300},
    # Very long tokens: a JWT-like run, a long line of one alphabet.
    {"m": "Bearer " + "A" * 3000 + " eyJ" + "a" * 2000 + ".eyJ" + "b" * 2000 + ".c " + LONG},
    {"m": "0" * 4000 + " 123-45-6789 " + "9" * 4000},
    # Key-held and assignment secrets in long strings.
    {"password": "hunter2-" + LONG[:400], "m": LONG[:300] + " api_key = 'sk_live_" + "a" * 24},
]


def _hostile_body() -> bytes:
    lines = [json.dumps(record).encode() for record in HOSTILE]
    lines += [json.dumps(record, ensure_ascii=False).encode() for record in HOSTILE]
    # An escape hiding the at sign (and one hiding a digit of a card).
    pad = LONG[:300].encode()
    lines.append(
        b'{"m": "' + pad + rb" alice\u0040example.com 4111\u00311111 1111 1111 " + pad + b'"}'
    )
    # `\/` hides the URL's `://` from its prefilter; another URL did hit.
    url = rb"https:\/\/u:pw@db.example.com\/x "
    lines.append(b'{"m": "https://a:b@h.example.com/ ' + pad + b" " + url + pad + b'"}')
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("name", ["write-default", "analyst-view"])
@pytest.mark.parametrize(
    "corpus",
    [
        {"min_values": 5, "pii_rate": 1.0},
        {"pii_rate": 0.2},
        {"pii_rate": 0.05},
        "hostile",
    ],
    ids=["dense", "pii20", "pii5", "hostile"],
)
@pytest.mark.parametrize("content", ["jsonl", "json", "text"])
def test_engine_equals_full_scan_oracle(
    monkeypatch: pytest.MonkeyPatch, name: str, corpus: object, content: str
) -> None:
    if corpus == "hostile":
        data = _hostile_body()
        if content == "text":
            # Read as text, `alice\u0040example.com` hides the email: refused
            # (`hidden`). The rest of the body is compared below.
            with pytest.raises(HiddenContent):
                mask(example(name), data, content_type="text/plain", key="t.txt")
            data = b"".join(line for line in data.splitlines(True) if b"\\u0040" not in line)
    else:
        assert isinstance(corpus, dict)
        data, _ = generate(400, seed=11, **corpus)
    if content == "json":  # the records as one JSON document
        data = b"[" + b",".join(data.splitlines()) + b"]"
    kind = {
        "jsonl": ("application/x-ndjson", "t.jsonl"),
        "json": ("application/json", "t.json"),
        "text": ("text/plain", "t.txt"),
    }
    ctype, key = kind[content]
    profile = example(name)
    fast, fast_summary = mask(profile, data, content_type=ctype, key=key)
    with monkeypatch.context() as patch:
        patch.setattr(detectors_mod.Detector, "find_near", _full)
        slow, slow_summary = mask(profile, data, content_type=ctype, key=key)
    assert fast == slow
    assert fast_summary == slow_summary
    assert fast_summary.replacements > 0
    # The canary of each hostile record is masked (not left as it was).
    if corpus == "hostile":
        assert b"alice@example.com" not in fast
        assert b"4111111111111111" not in fast


def test_invalid_utf8_is_refused_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"m": "' + b"a" * 300 + b"\xff alice@example.com" + b'"}\n'
    profile = example("write-default")
    results = []
    for windowed in (True, False):
        with monkeypatch.context() as patch:
            if not windowed:
                patch.setattr(detectors_mod.Detector, "find_near", _full)
            try:
                results.append(mask(profile, data))
            except Exception as exc:  # the same refusal, with the same S3 code
                results.append((type(exc).__name__, getattr(exc, "code", "")))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "pattern",
    [r"ACME-\d{6}(?!\d)", r"\b[A-Z]{3}\d{4}\b", detectors_mod.deny_list_pattern(("c++",))],
)
def test_custom_patterns_scan_whole_strings(pattern: str) -> None:
    """A custom pattern's prefilter (the pattern in hyperscan's prefilter
    mode, on raw JSON) misses `\\nABC1234` (`\\b` after the escape's `n`):
    a second value in a string is found only by the whole-string scan."""
    det = Detector(DetectorSpec(id="c", label="C", pattern=pattern, builtin=False))
    assert not det.windowed
    text = "ABC1234 " + "x" * 300 + "\nABC1234"
    assert det.find_near(text, [7]) == det.find(text)
