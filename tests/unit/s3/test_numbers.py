"""s3.numbers.whole_number: ASCII digits only, within a length."""

from __future__ import annotations

import pytest

from s3gate.s3.numbers import MAX_DIGITS, whole_number

CASES = {
    "zero": ("0", 0),
    "leading zeros": ("007", 7),
    "largest length": ("9" * MAX_DIGITS, int("9" * MAX_DIGITS)),
    "empty": ("", None),
    "arabic-indic three": ("\u0663", None),  # int() reads it as 3
    "fullwidth five": ("\uff15", None),  # int() reads it as 5
    "superscript two": ("\u00b2", None),  # isdigit() is true, int() raises
    "mixed": ("1\u0663", None),
    "plus sign": ("+5", None),
    "minus sign": ("-1", None),
    "spaces": (" 5 ", None),
    "underscore": ("1_000", None),
    "trailing newline": ("5\n", None),
    "too long": ("1" * (MAX_DIGITS + 1), None),
    "very long": ("1" * 10_000, None),
    "hex": ("0x10", None),
}


@pytest.mark.parametrize(("text", "expected"), list(CASES.values()), ids=list(CASES))
def test_whole_number(text: str, expected: int | None) -> None:
    assert whole_number(text) == expected


def test_a_smaller_length_limit() -> None:
    assert whole_number("12345", max_digits=5) == 12345
    assert whole_number("123456", max_digits=5) is None
