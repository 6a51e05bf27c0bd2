"""Built-in detectors for personal data: contacts, payment and identity
numbers, network identifiers."""

from __future__ import annotations

from s3gate.transform.detectors import DetectorSpec, Examples
from s3gate.transform.library_patterns import _START, P

# JSON keys that say "this number is a phone number": the words anywhere
# (phoneNumber, mobile_2), short ones only as a word of their own (tel, fax,
# cell; not "hotel" or "excellent").
_PHONE_KEY = (
    r"phone|mobile|msisdn"
    r"|(?:^|[^a-z])(?:tel|cell|fax)(?:[^a-z]|$|(?-i:[A-Z]))|(?-i:[a-z](?:Tel|Cell|Fax)(?![a-z]))"
)


# Raw JSON where a key naming a phone number or an SSN holds a number (or a
# string that starts with a digit: a number written as a string). One
# expression for both detectors (the plan keeps one copy of it), led by the
# words — a literal set — which is what keeps it cheap to scan.
_NUMBER_UNDER_KEY = (
    rb"(?i)(?:phone|mobile|msisdn|tel|cell|fax|ssn|social.?security|social.?insurance)"
    rb'[^"\\]{0,64}"[ \t\r\n]*:[ \t\r\n]*(?:-|"\+?)?[0-9]'
)


# _LEAD: Python's regex engine skips ahead fast to a pattern's first
# character when the pattern *starts* with a character set, and tries every
# position when it starts with a lookbehind. So patterns that must not
# continue a word are written first character first, the lookbehind after
# it widened by that one character: `\d(?<![\w-]\d)` matches exactly where
# `(?<![\w-])\d` does. Same matches, same groups (tests/unit/transform/
# test_pattern_spelling.py checks each against its plain spelling); several
# times faster on text full of words and digits.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


PII_SPECS: tuple[DetectorSpec, ...] = (
    DetectorSpec(
        id="email",
        label="EMAIL",
        description="Email addresses.",
        pattern=(
            r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
            r"(?![\w-]|\.[A-Za-z0-9])"
        ),
        prefilters=(P(rb"[A-Za-z0-9._%+-]@[A-Za-z0-9-]{1,63}\.[A-Za-z0-9]"),),
        normalize="casefold",
        examples=Examples(
            positive=("contact alice.smith+ops@example.com today", "<bob@mail.example.co.uk>"),
            negative=("pip install requests@2.31.0", "@decorator", "user at example dot com"),
        ),
    ),
    DetectorSpec(
        id="phone",
        label="PHONE",
        description="Phone numbers: E.164 / international, North American, UK, FR, DE.",
        # Led by its first character (`_LEAD`); each alternative goes on
        # from there, `(?<=c)` naming the first character it starts with:
        #   \+[1-9]\d{0,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}
        #   (?:1[ .-])?\(?[2-9]\d{2}\)?[ .-][2-9]\d{2}[ .-]\d{4}
        #   \([2-9]\d{2}\)[2-9]\d{2}-\d{4}   0[1-9](?:[ .]\d{2}){4}
        #   0\d{2,4} \d{3,4} ?\d{3,4}   0\d{2,5}[/-]\d{4,8}
        # after `(?<![\w+.-])`, and before `(?![\w-]|[.,]\d)`.
        pattern=(
            r"[+(\d](?<![\w+.-][+(\d])(?:"
            r"(?<=\+)[1-9]\d{0,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}"
            r"|(?:(?<=1)[ .-]\(?[2-9]\d{2}|(?<=\()[2-9]\d{2}|(?<=[2-9])\d{2})\)?"
            r"[ .-][2-9]\d{2}[ .-]\d{4}"
            r"|(?<=\()[2-9]\d{2}\)[2-9]\d{2}-\d{4}"
            r"|(?<=0)[1-9](?:[ .]\d{2}){4}"
            r"|(?<=0)\d{2,4} \d{3,4} ?\d{3,4}"
            r"|(?<=0)\d{2,5}[/-]\d{4,8}"
            r")(?![\w-]|[.,]\d)"
        ),
        prefilters=(
            P(rb"\+[1-9][0-9 .()-]{6,40}[0-9]"),
            P(_START + rb"(?:1[ .-])?[2-9][0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}"),
            P(rb"\([0-9]{3}\) ?[0-9]{3}"),
            P(_START + rb"0[1-9][ .][0-9]{2}[ .][0-9]{2}[ .][0-9]{2}[ .][0-9]{2}"),
            P(_START + rb"0[0-9]{2,4} [0-9]{3}"),
            P(_START + rb"0[0-9]{2,5}[/-][0-9]{4}"),
        ),
        validators=(("match", "phone"),),
        number_key=_PHONE_KEY,
        number_key_prefilter=_NUMBER_UNDER_KEY,
        number_validator="phone_number_value",
        normalize="phone",
        examples=Examples(
            positive=(
                "call +1 415 555 0132",
                "(415) 555-0132",
                "tel +44 20 7946 0958",
                "06 12 34 56 78",
                "030/1234567",
                "+4915123456789",
            ),
            negative=("2024-05-01 12:34:56", "v1.24.3", "order 20240501", "+0200"),
        ),
    ),
    DetectorSpec(
        id="credit_card",
        label="CARD",
        description="Payment card numbers (issuer prefix, length and Luhn checked).",
        # Written as one run of digits, or in groups of 4 (4-6-5 / 4-6-4 for
        # Amex and Diners) with one kind of separator.
        # Led by the first digit (see `_LEAD`): `\d(?<![\w.-]\d)` is
        # `(?<![\w.-])\d`, spelled so the regex engine skips to digits.
        pattern=(
            r"\d(?<![\w.-]\d)(?:\d{11,18}|\d{3}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
            r"|\d{3}([ -])\d{6}\2\d{4,5})(?![\w-]|\.\d)"
        ),
        # Class-led expressions cost a pass each, so these stay few and short.
        # Not `\b` in front: in raw JSON "\n4111…" the digit follows a letter.
        prefilters=(
            P(_START + rb"[2-6][0-9]{11,18}(?:[^0-9A-Za-z_]|$)"),
            P(_START + rb"[2-6][0-9]{3}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}"),
            P(_START + rb"3[0-9]{3}[ -][0-9]{6}[ -][0-9]{4}"),
            # A card written as a JSON number may be negative or carry a
            # positive exponent (`-4111…`, `4.111…e15,`): the JSON walk reads
            # the integer it denotes (`jsonnumbers.number_digits`). Each
            # expression costs the scan (measured: a digit-led `[0-9]{12}e`
            # or a whitespace class after the exponent cost 8-13% each), so
            # the exponent form is only flagged after a digit and before
            # `,` `}` `]` — not before the quote that ends a hex id in a
            # string (`…d0e4"`), nor in words such as `stage2,`.
            # What this leaves out is in docs/threat-model.md.
            P(rb"-[2-6][0-9]{11}"),
            P(rb"[0-9][eE]\+?[0-9]{1,3}[,}\]]"),
        ),
        validators=(("match", "payment_card"),),
        normalize="digits",
        examples=Examples(
            positive=(
                "card 4111 1111 1111 1111 exp 12/29",
                "5500-0000-0000-0004",
                "378282246310005",
            ),
            negative=("4111 1111 1111 1112", "1714567890123", "order 5500000000000005"),
        ),
    ),
    DetectorSpec(
        id="us_ssn",
        label="SSN",
        description="US social security numbers written 123-45-6789 or 123 45 6789.",
        pattern=r"\d(?<![\w-]\d)\d{2}([- ])\d{2}\1\d{4}(?![\w-])",  # digit-led (`_LEAD`)
        prefilters=(P(rb"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}"),),
        validators=(("match", "us_ssn"),),
        number_key=r"(?:^|[^a-z])ssn(?:[^a-z]|$)|(?-i:[a-z]SSN)|social.?(?:security|insurance)",
        number_key_prefilter=_NUMBER_UNDER_KEY,
        number_validator="us_ssn_number_value",
        normalize="digits",
        examples=Examples(
            positive=("SSN 536-22-1234", "ssn: 536 22 1234"),
            negative=("000-12-3456", "536-22-12345", "2024-05-0112"),
        ),
    ),
    DetectorSpec(
        id="iban",
        label="IBAN",
        description="International bank account numbers (length and mod-97 checked).",
        pattern=(  # `(?<![A-Za-z0-9])[A-Z]{2}…`, led by a capital (`_LEAD`)
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
            r"(?![A-Za-z0-9])"
        ),
        # Any two capitals after what may precede one in raw JSON (not a
        # letter or digit: a byte that is not, or an escape such as `\n` or
        # `\u00a0`). Measured (issue 13): the 80 country codes as a literal
        # set cost the scan 15% on clean traces and flagged more records.
        prefilters=(
            P(
                rb"(?:^|[^A-Za-z0-9]|\\[ntrbf]|\\u[0-9A-Fa-f]{4})"
                rb"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}"
            ),
        ),
        validators=(("match", "iban"),),
        examples=Examples(
            positive=("IBAN DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"),
            negative=("DE89 3704 0044 0532 0130 01", "AB12CDEF34GH"),
        ),
    ),
    DetectorSpec(
        id="ipv4",
        label="IP",
        description="IPv4 addresses (not loopback, 0.0.0.0 or broadcast).",
        # Digit-led (`_LEAD`): the first octet's alternatives continue
        # after its first digit, each in the same order as `_OCTET`'s.
        pattern=(
            r"\d(?<![\w.:-]\d)(?:(?<=2)5[0-5]|(?<=2)[0-4]\d|(?<=1)\d\d|(?<=[1-9])\d|)\."
            rf"(?:{_OCTET}\.){{2}}{_OCTET}(?![\w-]|\.\d)"
        ),
        prefilters=(P(rb"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]"),),
        validators=(("match", "ipv4"),),
        examples=Examples(
            positive=("from 203.0.113.42:443", "host=10.1.2.3"),
            negative=("127.0.0.1", "version 1.2.3", "1.3.6.1.4.1", "300.1.1.1"),
        ),
    ),
    DetectorSpec(
        id="ipv6",
        label="IP",
        description="IPv6 addresses (compressed or full; not ::1).",
        pattern=(
            r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
            r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[0-9A-Za-z.]{1,16})?(?![\w:.])"
        ),
        prefilters=(
            # Every valid address has "::" or eight groups (so ":h:h:h:h:").
            P(rb"::"),
            P(rb":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:"),
        ),
        validators=(("match", "ipv6"),),
        examples=Examples(
            positive=("peer 2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a%eth0"),
            negative=("::1", "12:34:56", "std::vector", "dead::beef"),
        ),
    ),
    DetectorSpec(
        id="mac_address",
        label="MAC",
        description="MAC addresses (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff).",
        pattern=(
            r"(?<![\w:.-])(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
            r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:-]|\.\w)"
        ),
        prefilters=(
            # Separator-led: hex letters are everywhere in text, ':' '-' less so.
            P(rb"[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]"),
            P(rb"\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"),
        ),
        examples=Examples(
            positive=("eth0 00:1A:2B:3C:4D:5E up", "mac 00-1a-2b-3c-4d-5e"),
            negative=("12:34:56", "00:1A:2B-3C:4D:5E", "2001:db8::1"),
        ),
    ),
)
