"""Red team, second pass, engine level: canaries hidden in JSON escapes,
surrogate pairs, odd byte-order marks, case, duplicate or escaped member
names, and invalid UTF-8 (overlong forms, encoded surrogates, NUL), under the
shipped `write-default` profile. Each case is refused (an S3 error) or the
canary is absent from what `json.loads` and every decoding in
tests/canaries.py read from the output. All held when written; kept as
regression guards. What did not hold is listed in docs/threat-model.md,
"Red-team passes".
"""

from __future__ import annotations

import json

import pytest

from s3gate import errors
from tests.canaries import ANTHROPIC, AWS_KEY, CARD, EMAIL, leaks
from tests.unit.transform.helpers import example, mask


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


JSON_FORMS: dict[str, bytes] = {
    "every character escaped": b'{"t":"%s"}' % _escaped(EMAIL).encode(),
    "only the @ escaped": b'{"t":"%s"}' % EMAIL.replace("@", "\\u0040").encode(),
    "a dot of the domain escaped": b'{"t":"%s"}' % EMAIL.replace(".com", "\\u002ecom").encode(),
    "AKIA key escaped": b'{"t":"%s"}' % _escaped(AWS_KEY).encode(),
    "card escaped": b'{"t":"%s"}' % _escaped(CARD).encode(),
    "escaped api_key member name": b'{"\\u0061pi_key":"%s"}' % ANTHROPIC.encode(),
    "canary as a member name": b'{"%s":1}' % EMAIL.encode(),
    "escaped canary as a member name": b'{"%s":1}' % _escaped(EMAIL).encode(),
    "duplicate member, second holds the key": b'{"api_key":"x","api_key":"%s"}'
    % ANTHROPIC.encode(),
    "after an escaped surrogate pair": b'{"t":"\\ud83d\\ude00%s"}' % _escaped(EMAIL).encode(),
    "after a lone surrogate": b'{"t":"\\ud83d%s"}' % _escaped(EMAIL).encode(),
    "escaped solidus after the value": b'{"t":"%s\\/x"}' % EMAIL.encode(),
    "upper case": b'{"t":"%s"}' % EMAIL.upper().encode(),
    "byte-order mark before the document": b"\xef\xbb\xbf" + b'{"t":"%s"}' % EMAIL.encode(),
    "byte-order mark inside the string": b'{"t":"\xef\xbb\xbf%s"}' % EMAIL.encode(),
    "byte-order mark after the document": b'{"t":"%s"}\xef\xbb\xbf' % EMAIL.encode(),
    "JSONL record escaped": b'{"t":"%s"}\n{"u":1}\n' % _escaped(EMAIL).encode(),
}

# Bytes that are not valid UTF-8 around a canary: a decoder that is lenient
# (or CESU-8 / modified UTF-8) would show the value.
INVALID_UTF8: dict[str, bytes] = {
    "overlong @ (C0 80 form)": b'{"e":"jane.canary\xc1\x80example.com"}',
    "overlong NUL": b'{"e":"%s\xc0\x80"}' % EMAIL.encode(),
    "encoded surrogate (CESU-8)": b'{"e":"%s\xed\xa0\x80"}' % EMAIL.encode(),
    "raw NUL inside the value": b'{"e":"jane.canary@exa\x00mple.com"}',
    "text with an overlong byte": b"jane.canary\xc0\x40example.com",
}


def _readable(out: bytes) -> bytes:
    # What json.loads shows, re-serialised without escapes, beside the bytes.
    try:
        shown = json.dumps(json.loads(out.decode("utf-8-sig")), ensure_ascii=False)
    except ValueError:
        return out
    return out + b"\n" + shown.encode("utf-8", "surrogatepass")


def _found(out: bytes) -> set[str]:
    """Canaries in any reading of `out`, in any letter case."""
    readable = _readable(out)
    return set(leaks(readable)) | set(leaks(readable.lower()))


@pytest.mark.parametrize("form", sorted(JSON_FORMS))
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_json_escapes_do_not_hide_a_canary(form: str, content_type: str) -> None:
    body = JSON_FORMS[form]
    if content_type == "application/json" and body.count(b"\n") > 1:
        content_type = "application/x-ndjson"
    assert _found(body), "bad case: the canary is not readable in the input"
    try:
        out, _ = mask(example("write-default"), body, content_type=content_type, key="t.json")
    except errors.S3Error:
        return
    assert _found(out) == set(), (form, out)


@pytest.mark.parametrize("form", sorted(INVALID_UTF8))
def test_invalid_utf8_is_refused(form: str) -> None:
    body = INVALID_UTF8[form]
    with pytest.raises(errors.S3Error):
        mask(example("write-default"), body, content_type="application/json", key="t.json")
