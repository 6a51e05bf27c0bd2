"""Built-in patterns spelled for speed match exactly where their plain
spelling does.

Python's regex engine skips ahead to a pattern's first character only when
the pattern starts with a character set; a leading lookbehind makes it try
every position. So several built-ins are written first character first
(`\\d(?<![\\w-]\\d)` for `(?<![\\w-])\\d`, see `_LEAD` in library_pii). The
plain spellings below are the patterns as they were before (issue 13); each
fast spelling must give the same matches, spans and groups on the detectors'
own examples, on every string of the trace corpora, and on seeded random
strings over the characters each pattern cares about.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from s3gate.transform.library import BUILTINS
from s3gate.transform.library_secrets import _ASSIGN, _KEY_NAME_WORDS
from tests.tracegen import generate

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PLAIN: dict[str, str] = {
    "credit_card": (
        r"(?<![\w.-])(?:\d{12,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
        r"|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|\.\d)"
    ),
    "us_ssn": r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])",
    "ipv4": rf"(?<![\w.:-])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w-]|\.\d)",
    "phone": (
        r"(?<![\w+.-])(?:"
        r"\+[1-9]\d{0,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}"
        r"|(?:1[ .-])?\(?[2-9]\d{2}\)?[ .-][2-9]\d{2}[ .-]\d{4}"
        r"|\([2-9]\d{2}\)[2-9]\d{2}-\d{4}"
        r"|0[1-9](?:[ .]\d{2}){4}"
        r"|0\d{2,4} \d{3,4} ?\d{3,4}"
        r"|0\d{2,5}[/-]\d{4,8}"
        r")(?![\w-]|[.,]\d)"
    ),
    "iban": (
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
        r"(?![A-Za-z0-9])"
    ),
    "aws_secret_access_key": (
        r"(?<![A-Za-z0-9])(?i:aws|secret|access[_ -]?key)[^\n]{0,40}?(?<![A-Za-z0-9/+=])"
        r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
    ),
    "bearer_token": (
        r"(?<![A-Za-z0-9])(?i:bearer)[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,4096}=*)"
        r"|(?i:authorization)" + _ASSIGN + r"(?:\\{0,7}[\"'])?(?i:basic|digest|token)[ \t]+"
        r"(?P<value2>[A-Za-z0-9+/=._~-]{8,4096})"
    ),
    "secret_assignment": (
        r"(?=[acepstACEPST])(?i:" + _KEY_NAME_WORDS + r")(?![A-Za-z0-9])" + _ASSIGN
        + r"(?:(?P<q>\\{0,7}[\"'])(?P<value>[^\"'\\\r\n]{1,256})"
        r"|(?P<value2>[^\s\"'\\,;&<>(){}\[\]`]{1,256}))"
    ),
}  # fmt: skip

# Characters each pattern turns on, for the random strings.
ALPHABETS: dict[str, str] = {
    "credit_card": "0123456789 -._a\n",
    "us_ssn": "0123456789 -_a",
    "ipv4": "0123456789.:-_a ",
    "phone": "0123456789 .-+()/,_a",
    "iban": "DEGBFRX0123456789 ab",
    "aws_secret_access_key": "awsAWSsecretSECRETaccesskey_- =/+0123456789KLMXY\n",
    "bearer_token": "bearerBEARERauthorizationAUTH: =>\t'\"\\basicBASICtoken0123456789/+=._~-",
    "secret_assignment": "passwordPASStokenTOKENapikeysecretclient_-: =>\t'\"\\0123456789,;x",
}


def _compile(det_id: str, pattern: str) -> re.Pattern[str]:
    spec = BUILTINS[det_id]
    return re.compile(pattern, re.ASCII | (re.IGNORECASE if spec.ignore_case else 0))


def _matches(regex: re.Pattern[str], text: str) -> list[tuple[object, ...]]:
    return [(m.span(), m.groups(), m.groupdict()) for m in regex.finditer(text)]


def _corpus_strings() -> list[str]:
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                out.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for options in ({"pii_rate": 1.0, "min_values": 5}, {"pii_rate": 0.2}):
        data, _ = generate(300, seed=11, **options)  # type: ignore[arg-type]
        for line in data.splitlines():
            out.append(line.decode())
            walk(json.loads(line))
    return out


CORPUS = _corpus_strings()


def test_every_fast_spelling_is_in_the_library() -> None:
    for det_id, plain in PLAIN.items():
        assert BUILTINS[det_id].pattern != plain, det_id  # the fast one is in use
        fast = _compile(det_id, BUILTINS[det_id].pattern)
        assert fast.groupindex == _compile(det_id, plain).groupindex, det_id


@pytest.mark.parametrize("det_id", sorted(PLAIN))
def test_same_matches_on_examples_and_corpora(det_id: str) -> None:
    plain = _compile(det_id, PLAIN[det_id])
    fast = _compile(det_id, BUILTINS[det_id].pattern)
    spec = BUILTINS[det_id]
    texts = [*spec.examples.positive, *spec.examples.negative, *CORPUS]
    found = 0
    for text in texts:
        expected = _matches(plain, text)
        assert _matches(fast, text) == expected, text
        found += bool(expected)
    assert found >= len(spec.examples.positive)


@pytest.mark.parametrize("det_id", sorted(PLAIN))
def test_same_matches_on_random_strings(det_id: str) -> None:
    plain = _compile(det_id, PLAIN[det_id])
    fast = _compile(det_id, BUILTINS[det_id].pattern)
    rng = random.Random(f"spelling-{det_id}")
    alphabet = ALPHABETS[det_id]
    # Positive examples cut and spliced with noise, and pure noise.
    seeds = list(BUILTINS[det_id].examples.positive)
    found = 0
    for _ in range(4000):
        noise = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        if seeds and rng.random() < 0.5:
            seed = rng.choice(seeds)
            cut = rng.randint(0, len(seed))
            text = seed[:cut] + noise[: rng.randint(0, 4)] + seed[cut:] + noise
            if rng.random() < 0.5:
                text = noise[::-1] + text
        else:
            text = noise
        expected = _matches(plain, text)
        assert _matches(fast, text) == expected, text
        found += bool(expected)
    assert found > 100  # the strings do exercise the pattern
