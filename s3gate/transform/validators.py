"""Checks that turn a regex candidate into a finding: checksums (Luhn, IBAN
mod-97), number-plan rules (SSN, card IIN), address parsing, and filters that
keep placeholders and code references from counting as secrets.

Each validator takes the candidate text (the detector's `value` group when it
has one) and answers whether it is the real thing. Profiles name them.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable

Validator = Callable[[str], bool]

_NON_DIGIT = re.compile(r"\D")


def digits(text: str) -> str:
    return _NON_DIGIT.sub("", text)


def luhn(text: str) -> bool:
    number = digits(text)
    if len(number) < 12:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(number: str) -> bool:
    """Issuer prefix and length agree with a real card scheme."""
    n = len(number)
    p2, p4 = int(number[:2]), int(number[:4])
    if number[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if number.startswith("6011") or p2 == 65 or 644 <= int(number[:3]) <= 649:  # Discover
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= int(number[:3]) <= 305:  # Diners Club
        return 14 <= n <= 19
    if p2 == 62:  # UnionPay
        return 16 <= n <= 19
    if p2 in (50, 56, 57, 58) or p2 == 67:  # Maestro
        return 12 <= n <= 19
    return False


def payment_card(text: str) -> bool:
    number = digits(text)
    if not 12 <= len(number) <= 19 or len(set(number)) < 2:
        return False
    # Mixed separators ("4111 1111-1111") are not how anyone writes a card.
    seps = {c for c in text if not c.isdigit()}
    return len(seps) <= 1 and _card_brand_ok(number) and luhn(number)


# IBAN lengths per country (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban(text: str) -> bool:
    code = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(code[:2]) != len(code) or not code.isalnum():
        return False
    rearranged = code[4:] + code[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def us_ssn(text: str) -> bool:
    number = digits(text)
    if len(number) != 9:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    # Numbers published in advertising and documentation; not anyone's SSN.
    return number not in ("078051120", "219099999", "123456789")


def phone(text: str) -> bool:
    number = digits(text)
    if text.lstrip().startswith("+"):
        return 8 <= len(number) <= 15
    return 9 <= len(number) <= 12 and len(set(number)) > 2


def phone_number_value(text: str) -> bool:
    """A phone number written as a JSON number (no `+`, no separators):
    E.164 length, not a run of one or two digits."""
    number = digits(text)
    return 8 <= len(number) <= 15 and len(set(number)) > 2


def us_ssn_number_value(text: str) -> bool:
    """An SSN written as a JSON number, whose leading zeros are lost."""
    number = digits(text)
    return 7 <= len(number) <= 9 and us_ssn(number.zfill(9))


def ipv4(text: str) -> bool:
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        return False
    # Loopback, "any" and broadcast identify nobody and fill every log.
    return not (addr.is_loopback or addr.is_unspecified or str(addr) == "255.255.255.255")


def ipv6(text: str) -> bool:
    address = text.split("%", 1)[0]
    try:
        addr = ipaddress.IPv6Address(address)
    except ValueError:
        return False
    if addr.is_loopback or addr.is_unspecified:
        return False
    groups = [g for g in address.split(":") if g]
    # "dead::beef" and "a::b" parse, but real addresses carry digits and
    # C++/Rust paths ("std::io") are word-only.
    return len(groups) >= 2 and any(ch.isdigit() for ch in address)


def mixed_case_key(text: str) -> bool:
    """A random base64 key: upper, lower and digits all present (not hex)."""
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


def jwt(text: str) -> bool:
    header = text.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        parsed = json.loads(decoded)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(parsed, dict) and "alg" in parsed


_PLACEHOLDER = re.compile(
    r"""^(?:
        [*x•.#-]{3,}                                  # ****, xxxx, ••••
      | \[?redacted.*                                 # [REDACTED:...], redacted
      | <[^>]*>                                       # <password>
      | \$\{[^}]*\}? | \$[A-Z_][A-Z0-9_]* | %\(?\w*\)?s? # ${VAR}, $VAR, %s
      | \{\{.*\}\}? | \{[A-Za-z_]\w*\}                # {{var}}, {var}
      | (?:none|null|nil|true|false|undefined|empty|changeme|required|optional|string)
      | (?:your|my|example|sample|dummy|fake)[_-]?\w*?(?:pass\w*|secret|token|key|pwd)
      | tok_[a-z0-9]+_[a-z2-7]+                       # our own tokens
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Code that *refers* to a secret: os.environ["X"], settings.api_key, getenv(...).
_CODE_REF = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+(?:\(|\[)?$|.*\($")


def not_placeholder(text: str) -> bool:
    value = text.strip().strip("\"'")
    return len(value) >= 3 and not _PLACEHOLDER.match(value)


def secret_value(text: str) -> bool:
    """Assigned secret values, minus placeholders and code references."""
    return not_placeholder(text) and not _CODE_REF.match(text.strip().strip("\"'"))


def bare_secret_value(text: str) -> bool:
    """Unquoted `key=value` in prose: stricter, so that "password: required"
    or "token: expired" in a sentence is not taken for a secret."""
    if not secret_value(text) or len(text) < 6:
        return False
    has_digit = any(c.isdigit() for c in text)
    has_symbol = any(not c.isalnum() for c in text)
    mixed = any(c.isupper() for c in text[1:]) and any(c.islower() for c in text)
    return has_digit or has_symbol or mixed


VALIDATORS: dict[str, Validator] = {
    "luhn": luhn,
    "payment_card": payment_card,
    "iban": iban,
    "us_ssn": us_ssn,
    "phone": phone,
    "phone_number_value": phone_number_value,
    "us_ssn_number_value": us_ssn_number_value,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "mixed_case_key": mixed_case_key,
    "jwt": jwt,
    "not_placeholder": not_placeholder,
    "secret_value": secret_value,
    "bare_secret_value": bare_secret_value,
}
