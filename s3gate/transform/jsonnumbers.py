"""JSON numbers as the detectors read them.

A card written as a JSON number is a digit run like any other, but it may
also be spelled negative or with a fraction or exponent (`-4111…`,
`4.111…e15` denote the card 4111…): `number_digits` gives the integer a
number token denotes, so that the detectors see the digits. An SSN or phone
number has no shape of its own as a number (no separators), so the key that
holds it decides (`detectors.DetectorSpec.number_key`); digits-only strings
under such keys are read the same way.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

_NUMBER_START = frozenset(b"-0123456789")
# Integers up to 19 digits: the longest card number; larger ones are not read.
_NUMBER_DIGITS = 19
_EXACT = Context(prec=_NUMBER_DIGITS + 2, traps=[])


# A string of digits only (a phone number or SSN written without separators,
# as a string: `"4155550132"`); read like the number it spells.
DIGIT_STRING = re.compile(rb'^"\+?[0-9]{7,15}"$')


def key_held_digits(token: bytes) -> str | None:
    """The digits of a number or digits-only string token (a key-held value)."""
    if token[:1] == b'"':
        return token.strip(b'"+').decode()
    return number_digits(token)


def is_number(token: bytes) -> bool:
    """Is this JSON scalar token a number (not a string, true, false, null)?"""
    return bool(token) and token[0] in _NUMBER_START


def number_digits(token: bytes) -> str | None:
    """The digits of the integer a JSON number token denotes, sign dropped
    (`-4.111e3` → "4111"); None if it is not an integer below 10**19."""
    if len(token) > 400:  # no card is written that long; bounds Decimal's work
        return None
    try:
        value = Decimal(token.removeprefix(b"-").decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        return None
    # Exponent checks first: no arithmetic on 1e-999999999 or 9e999999999.
    if not value.is_finite() or not 0 <= value.adjusted() < _NUMBER_DIGITS:
        return None
    if value != value.to_integral_value(context=_EXACT):
        return None
    return str(int(value))
