"""Escapes and invisible characters that hide a value from the detectors
(docs/threat-model.md, "Red-team passes"): the engine re-reads text lines
(JSON: its masked output) with `\\uXXXX` / `\\xHH` escapes undone and
invisible characters removed, and refuses an object that shows a finding only in that reading
(`HiddenContent`, AccessDenied, naming the rule). Bodies without those
constructs are masked byte for byte as before.
"""

from __future__ import annotations

import json
import re

import pytest

from s3gate import errors
from s3gate.transform import hidden
from s3gate.transform.errors import HiddenContent
from tests.canaries import AWS_KEY, CARD, EMAIL
from tests.unit.transform.helpers import example, mask

ESC_EMAIL = EMAIL.replace("@", "\\u0040")
ALL_ESC_EMAIL = "".join(f"\\u{ord(c):04x}" for c in EMAIL)
ZW_EMAIL = EMAIL.replace("@", "\u200b@")
ZW_CARD = "\u200b".join(CARD[i : i + 4] for i in range(0, 16, 4))
EMAIL_RULE, AWS_RULE, CARD_RULE = (
    "write-default:email",
    "write-default:aws_access_key_id",
    "write-default:credit_card",
)
TEXT, JSON, JSONL = (
    ("text/plain", "t.txt"),
    ("application/json", "t.json"),
    ("application/x-ndjson", "t.jsonl"),
)

# name → (body, (content type, key), rule the refusal names)
REFUSED: dict[str, tuple[bytes, tuple[str, str], str]] = {
    "text: JSON line, @ escaped": (b'{"t":"%s"}\n' % ESC_EMAIL.encode(), TEXT, EMAIL_RULE),
    "text: every character escaped": (ALL_ESC_EMAIL.encode(), TEXT, EMAIL_RULE),
    "text: upper-case hex escape": (EMAIL.replace("j", "\\u006A").encode(), TEXT, EMAIL_RULE),
    "text: \\xHH escape (YAML, Python)": (
        b'key: "%s"\n' % EMAIL.replace("@", "\\x40").encode(),
        TEXT,
        EMAIL_RULE,
    ),
    "text: AWS key escaped": (b"id=\\u0041" + AWS_KEY[1:].encode(), TEXT, AWS_RULE),
    "text: card escaped, after clean lines": (
        b"a\nb\n\\u0034" + CARD[1:].encode() + b"\n",
        TEXT,
        CARD_RULE,
    ),
    "text: double-escaped (JSON in a JSON string in a log)": (
        b'{"args":"{\\"e\\":\\"%s\\"}"}' % EMAIL.replace("@", "\\\\u0040").encode(),
        TEXT,
        EMAIL_RULE,
    ),
    "json: JSON document in a JSON string": (
        b'{"args":"{\\"e\\":\\"%s\\"}"}' % EMAIL.replace("@", "\\\\u0040").encode(),
        JSON,
        EMAIL_RULE,
    ),
    "jsonl: JSON document in a JSON string": (
        b'{"a":1}\n{"args":"{\\"e\\":\\"%s\\"}"}\n' % EMAIL.replace("@", "\\\\u0040").encode(),
        JSONL,
        EMAIL_RULE,
    ),
    "text: zero-width space": (ZW_EMAIL.encode(), TEXT, EMAIL_RULE),
    "text: soft hyphen in an AWS key": (
        (AWS_KEY[:8] + "\u00ad" + AWS_KEY[8:]).encode(),
        TEXT,
        AWS_RULE,
    ),
    "text: zero-width non-joiner": (EMAIL.replace("@", "\u200c@").encode(), TEXT, EMAIL_RULE),
    "text: zero-width joiner": (EMAIL.replace(".com", "\u200d.com").encode(), TEXT, EMAIL_RULE),
    "text: word joiner": (EMAIL.replace("@", "@\u2060").encode(), TEXT, EMAIL_RULE),
    "text: BOM inside the line": (b"x " + EMAIL.replace("@", "\ufeff@").encode(), TEXT, EMAIL_RULE),
    "text: escaped NUL": (EMAIL.replace("@", "\\u0000@").encode(), TEXT, EMAIL_RULE),
    "text: card split by zero-width spaces": (ZW_CARD.encode(), TEXT, CARD_RULE),
    "json: escaped zero-width space": (
        b'{"t":"%s"}' % EMAIL.replace("@", "\\u200b@").encode(),
        JSON,
        EMAIL_RULE,
    ),
    "json: raw zero-width space": (
        json.dumps({"t": ZW_EMAIL}, ensure_ascii=False).encode(),
        JSON,
        EMAIL_RULE,
    ),
    "json: escaped NUL": (
        b'{"t":"%s"}' % EMAIL.replace("@", "\\u0000@").encode(),
        JSON,
        EMAIL_RULE,
    ),
    "json: soft hyphen in a card": (
        json.dumps({"cc": CARD[:8] + "\u00ad" + CARD[8:]}).encode(),
        JSON,
        CARD_RULE,
    ),
    "jsonl: a line that is not JSON, escaped NUL": (
        b'{"a":1}\nnot json %s\n' % EMAIL.replace("@", "\\u0000@").encode(),
        JSONL,
        EMAIL_RULE,
    ),
    "json: not one document, escaped NUL on a text line": (
        b'{"a":1}\nnot json %s\n' % EMAIL.replace("@", "\\u0000@").encode(),
        JSON,
        EMAIL_RULE,
    ),
    "jsonl: escaped zero-width space in a later record": (
        b'{"a":1}\n{"t":"%s"}\n' % EMAIL.replace("@", "\\u200b@").encode(),
        JSONL,
        EMAIL_RULE,
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hidden_value_refuses_the_object(name: str) -> None:
    body, (ctype, key), rule = REFUSED[name]
    with pytest.raises(HiddenContent) as caught:
        mask(example("write-default"), body, content_type=ctype, key=key)
    exc = caught.value
    assert isinstance(exc, errors.S3Error)
    assert (exc.code, exc.status) == ("AccessDenied", 403)
    assert rule in exc.rule_ids
    assert rule in exc.message and "escapes" in exc.message
    assert "jane" not in str(exc) and CARD[4:] not in str(exc) and AWS_KEY[4:] not in str(exc)


# Bodies with escapes or invisible characters but no hidden value: masked
# as before (what shows is masked; nothing is refused).
PASSED: dict[str, tuple[bytes, tuple[str, str], bytes | None]] = {
    "text: escaped accents, no value": (b"caf\\u00e9 \\x41BC na\\u00efve\n", TEXT, None),
    "text: zero-width joiner in an emoji": ("\U0001f468\u200d\U0001f4bb ok\n".encode(), TEXT, None),
    "json: ensure_ascii accents": (json.dumps({"t": "café ünïcode"}).encode(), JSON, None),
    "json: soft hyphen in a word": (json.dumps({"t": "hy\u00adphen"}).encode(), JSON, None),
    "jsonl: BOM at the start": (b'\xef\xbb\xbf{"a":"b"}\n', JSONL, None),
    "text: a shown value beside an escape is masked, not refused": (
        b"%s caf\\u00e9\n" % EMAIL.encode(),
        TEXT,
        b"jane",
    ),
    "json: an escaped value the JSON masker undoes is masked": (
        b'{"t":"%s"}' % ESC_EMAIL.encode(),
        JSON,
        b"jane",
    ),
}


@pytest.mark.parametrize("name", sorted(PASSED))
def test_escapes_without_a_hidden_value_pass(name: str) -> None:
    body, (ctype, key), masked_away = PASSED[name]
    out, summary = mask(example("write-default"), body, content_type=ctype, key=key)
    if masked_away is None:
        assert out == body
        assert summary.replacements == 0
    else:
        assert masked_away not in out
        assert summary.replacements == 1


def test_reading_undoes_escapes_levels_and_invisibles() -> None:
    cases = {
        "a\\u0040b": "a@b",
        "a\\\\u0040b": "a@b",  # two levels
        "a\\x40b": "a@b",
        "\\ud83d\\ude00": "\U0001f600",  # an escaped pair joins
        "\\ud83d!": "\ufffd!",  # a lone surrogate is not a character
        "a\u200bb\u00adc\ufeffd\x00e": "abcde",
        "plain": "plain",
    }
    for raw, shown in cases.items():
        assert hidden.reading(raw) == shown, raw


def test_invisible_bytes_precheck_matches_the_character_class() -> None:
    # Every code point the reading removes is flagged by the bytes precheck,
    # and no other is (so the precheck is exact, not a guess).
    flagged = re.compile(hidden._INVISIBLE_UTF8)
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        assert bool(hidden.INVISIBLE.fullmatch(char)) == bool(flagged.fullmatch(char.encode())), (
            hex(cp)
        )
