"""Card numbers, SSNs and phone numbers written as JSON numbers.

A JSON number cannot hold separators, so a card is a bare digit run (found by
its pattern, Luhn and issuer prefix, whatever the key) and an SSN or a phone
number is recognised by the key that holds it. Each is replaced by a JSON
string (the operator's redaction or token), so the output stays valid JSON.
"""

from __future__ import annotations

import json

import pytest

from s3gate.transform.jsonnumbers import number_digits
from s3gate.transform.settings import Limits
from tests.unit.transform.helpers import example, mask, mask_chunks, split

CARD = "4111111111111111"
AMEX = "378282246310005"
RED = '"[REDACTED:CARD]"'
SSN = '"[REDACTED:SSN]"'

# (JSON text, the masked text under write-default). The same table runs as a
# JSON document and as a JSONL record.
CASES = [
    # Top-level values.
    (CARD, RED),
    (f"-{CARD}", RED),
    (AMEX, RED),
    # Members and array elements, nested.
    (f'{{"cc": {CARD}}}', f'{{"cc": {RED}}}'),
    (f'{{"cc":{CARD},"n":1}}', f'{{"cc":{RED},"n":1}}'),
    (f'{{"cc": {CARD} }}', f'{{"cc": {RED} }}'),
    (f"[{CARD}, 1]", f"[{RED}, 1]"),
    (f"[1,{CARD}]", f"[1,{RED}]"),
    (f'{{"a":[1,[2,{{"b":{CARD}}}]]}}', f'{{"a":[1,[2,{{"b":{RED}}}]]}}'),
    (
        f'{{"order": {{"payment": [{{"pan": -{CARD}}}]}}}}',
        f'{{"order": {{"payment": [{{"pan": {RED}}}]}}}}',
    ),
    # Fraction and exponent spellings of the same integer.
    (f'{{"cc": {CARD}.0}}', f'{{"cc": {RED}}}'),
    ('{"cc": 4.111111111111111e15}', f'{{"cc": {RED}}}'),
    ('{"cc": 4.111111111111111E+15}', f'{{"cc": {RED}}}'),
    ('{"cc": -4.111111111111111e15}', f'{{"cc": {RED}}}'),
    (f"[4.111111111111111e15,{AMEX}]", f"[{RED},{RED}]"),
    ('{"cc": 4111111111111111e0}', f'{{"cc": {RED}}}'),
    # SSNs and phones by their key.
    ('{"ssn": 536221234}', f'{{"ssn": {SSN}}}'),
    ('{"user_ssn": 536221234}', f'{{"user_ssn": {SSN}}}'),
    ('{"userSSN": 36221234}', f'{{"userSSN": {SSN}}}'),  # 036-22-1234, zero lost
    ('{"social_security_number": 5.36221234e8}', f'{{"social_security_number": {SSN}}}'),
    # The same digits as a string, under the same keys.
    ('{"ssn": "536221234"}', f'{{"ssn": {SSN}}}'),
    ('{"ssn": "536-22-1234"}', f'{{"ssn": {SSN}}}'),
    ('{"ssn": "5362212345678"}', '{"ssn": "5362212345678"}'),  # not an SSN
    # Numbers that are none of these stay numbers, byte for byte.
    ('{"cc": 4111111111111112}', '{"cc": 4111111111111112}'),  # Luhn fails
    ('{"ts": 1714567890123}', '{"ts": 1714567890123}'),
    ('{"n": 1.5e-05, "big": 1e300, "neg": -12}', '{"n": 1.5e-05, "big": 1e300, "neg": -12}'),
    ('{"cc": 4111111111111111.5}', '{"cc": 4111111111111111.5}'),  # not an integer
    ('{"ssn": 123456789}', '{"ssn": 123456789}'),  # the documentation SSN
    (
        '{"classname": 536221234, "hotel": 4155550132}',
        '{"classname": 536221234, "hotel": 4155550132}',
    ),
    ('{"phone": 12}', '{"phone": 12}'),
    ('{"tokens": 1234, "ok": true, "x": null}', '{"tokens": 1234, "ok": true, "x": null}'),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_json_document(text: str, expected: str) -> None:
    out, _ = mask(example("write-default"), text.encode(), content_type="application/json")
    assert out.decode() == expected
    json.loads(out)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_jsonl_record(text: str, expected: str) -> None:
    data = f'{{"first": 1}}\n{text}\n{{"last": 2}}'.encode()
    out, _ = mask(example("write-default"), data)
    assert out.decode() == f'{{"first": 1}}\n{expected}\n{{"last": 2}}'


@pytest.mark.parametrize(
    ("text", "key_word"),
    [
        ('{"phone": 4155550132}', "phone"),
        ('{"phoneNumber": 4155550132}', "phoneNumber"),
        ('{"mobile_2": 447911123456}', "mobile_2"),
        ('{"tel": 33612345678}', "tel"),
        ('{"contactFax": 4155550132}', "contactFax"),
        ('{"phone": "4155550132"}', "phone"),
    ],
)
def test_phone_numbers_by_key(text: str, key_word: str) -> None:
    out, summary = mask(example("write-default"), text.encode(), content_type="application/json")
    value = json.loads(out)[key_word]
    assert isinstance(value, str) and value.startswith("tok_")
    assert summary.detectors["phone"] == 1
    # The analyst view keeps the last four digits, as for a written number.
    out, _ = mask(example("analyst-view"), text.encode(), content_type="application/json")
    assert json.loads(out)[key_word].endswith(text.rstrip('}"')[-4:])


def test_counts_name_the_detector() -> None:
    _, summary = mask(example("write-default"), f"[{CARD}, -{CARD}]".encode())
    assert summary.detectors["credit_card"] == 2


@pytest.mark.parametrize("size", [1, 2, 3, 5, 16, 17, 4096])
def test_chunk_boundaries_do_not_matter(size: int) -> None:
    data = "".join(f'{{"i": {i}, "cc": {CARD}}}\n' for i in range(300)).encode()
    whole, _ = mask(example("write-default"), data)
    assert CARD.encode() not in whole
    chunked, _ = mask_chunks([example("write-default")], split(data, size))
    assert chunked == whole


def test_block_boundaries_do_not_matter() -> None:
    # Records of about 40 bytes in 4 KiB blocks: numbers land on every offset
    # relative to a block end, and at the very end of the input.
    data = "".join(f'{{"pad": "{"x" * (i % 7)}", "cc": {CARD}}}\n' for i in range(400))
    data += f"{CARD}"
    out, _ = mask(example("write-default"), data.encode(), limits=Limits(block_bytes=4096))
    assert CARD.encode() not in out
    assert out.count(b"[REDACTED:CARD]") == 401


@pytest.mark.parametrize(
    ("token", "digits"),
    [
        (b"4111111111111111", "4111111111111111"),
        (b"-4111111111111111", "4111111111111111"),
        (b"4.111111111111111e15", "4111111111111111"),
        (b"4111111111111111.000", "4111111111111111"),
        (b"0", "0"),
        (b"1.5", None),
        (b"1e19", None),  # 20 digits: no card is that long
        (b"1e-999999999", None),
        (b"9e999999999999999999", None),  # no arithmetic on a huge exponent
        (b"1" * 401, None),
        (b"tru", None),
    ],
)
def test_number_digits(token: bytes, digits: str | None) -> None:
    assert number_digits(token) == digits
