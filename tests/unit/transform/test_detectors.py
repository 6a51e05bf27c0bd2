"""The built-in library: each detector's own examples, validators, and the
prefilter contract (a precise match implies a prefilter hit on raw bytes,
JSON-escaped or not)."""

from __future__ import annotations

import json

import pytest

from s3gate.transform import validators as v
from s3gate.transform.detectors import Detector, deny_list_pattern
from s3gate.transform.library import BUILTINS
from s3gate.transform.scanner import Entry, Scanner

DETECTORS = {spec_id: Detector(spec) for spec_id, spec in BUILTINS.items()}


def _cases(kind: str) -> list[tuple[str, str]]:
    return [
        (det_id, ex) for det_id, spec in BUILTINS.items() for ex in getattr(spec.examples, kind)
    ]


def test_every_builtin_has_examples() -> None:
    required = {
        "email", "phone", "credit_card", "us_ssn", "iban", "ipv4", "ipv6", "mac_address",
        "aws_access_key_id", "aws_secret_access_key", "github_token", "gitlab_token",
        "slack_token", "stripe_key", "google_api_key", "openai_api_key", "anthropic_api_key",
        "jwt", "private_key", "bearer_token", "url_password", "secret_assignment",
    }  # fmt: skip
    assert required <= set(BUILTINS)
    for spec in BUILTINS.values():
        assert spec.examples.positive and spec.examples.negative, spec.id


@pytest.mark.parametrize(("det_id", "text"), _cases("positive"))
def test_positive_examples_found(det_id: str, text: str) -> None:
    assert DETECTORS[det_id].find(text)


@pytest.mark.parametrize(("det_id", "text"), _cases("negative"))
def test_negative_examples_not_found(det_id: str, text: str) -> None:
    assert not DETECTORS[det_id].find(text)


@pytest.mark.parametrize(("det_id", "text"), _cases("positive"))
def test_prefilter_hits_raw_and_json_escaped_forms(det_id: str, text: str) -> None:
    det = DETECTORS[det_id]
    scanner = Scanner([Entry(pf, ("detector", 0)) for pf in det.prefilters()])
    forms = [text, json.dumps(text), json.dumps("\n" + text + "\t"), json.dumps(json.dumps(text))]
    for form in forms:
        raw = form.encode()
        ends = [end for _, end in scanner.scan(raw)]
        assert ends, (det_id, form)


def test_value_group_is_what_gets_masked() -> None:
    spans = DETECTORS["url_password"].find("postgres://app:s3cr3t@db/app")
    assert [("postgres://app:s3cr3t@db/app")[s.start : s.end] for s in spans] == ["s3cr3t"]
    text = "Authorization: Bearer abcdefghijklmnop0123"
    spans = DETECTORS["bearer_token"].find(text)
    assert [text[s.start : s.end] for s in spans] == ["abcdefghijklmnop0123"]


def test_validators() -> None:
    assert v.luhn("4111111111111111") and not v.luhn("4111111111111112")
    assert v.payment_card("4111 1111 1111 1111") and not v.payment_card("1714567890123")
    assert v.iban("DE89370400440532013000") and not v.iban("DE89370400440532013001")
    assert v.iban("GB82WEST12345698765432") and not v.iban("XX82WEST12345698765432")
    assert v.us_ssn("536-22-1234") and not v.us_ssn("666-22-1234") and not v.us_ssn("536-00-1234")
    assert v.ipv4("203.0.113.9") and not v.ipv4("127.0.0.1") and not v.ipv4("999.1.1.1")
    assert v.ipv6("2001:db8::1") and not v.ipv6("::1") and not v.ipv6("dead::beef")
    assert v.secret_value("hunter2!") and not v.secret_value("${DB_PASSWORD}")
    assert not v.secret_value("settings.api_key") and not v.secret_value("********")
    assert v.bare_secret_value("hunter22") and not v.bare_secret_value("required")


def test_deny_list_terms_are_whole_words_and_caseless() -> None:
    import re

    regex = re.compile(deny_list_pattern(("Nightjar", "BLUEBIRD-X")), re.IGNORECASE)
    assert regex.search("project NIGHTJAR ships")
    assert regex.search("bluebird-x launch")
    assert not regex.search("nightjars are birds")


# What may stand before an IBAN in raw JSON: the IBAN prefilter is led by
# that left context, not by the country codes (issue 13), so each way of
# writing a non-alphanumeric character there must still flag it.
IBAN = "DE89370400440532013000"
IBAN_CONTEXTS = [
    ("start of the string", IBAN),
    ("space", "IBAN " + IBAN),
    ("newline escape", "IBAN:\n" + IBAN),
    ("backspace escape", "x\b" + IBAN),
    ("form feed escape", "x\f" + IBAN),
    ("non-ASCII, \\u-escaped", "an\u00a0" + IBAN),
    ("non-ASCII, as UTF-8", "überweisung→" + IBAN),
    ("quote escape", 'iban="' + IBAN + '"'),
]


@pytest.mark.parametrize(("what", "text"), IBAN_CONTEXTS)
def test_iban_prefilter_sees_every_left_context(what: str, text: str) -> None:
    det = DETECTORS["iban"]
    assert det.find(text), what
    scanner = Scanner([Entry(pf, ("detector", 0)) for pf in det.prefilters()])
    for form in (json.dumps(text), json.dumps(text, ensure_ascii=False)):
        assert scanner.scan(form.encode()), (what, form)


def test_iban_prefilter_needs_a_boundary_before_the_country() -> None:
    scanner = Scanner([Entry(pf, ("detector", 0)) for pf in DETECTORS["iban"].prefilters()])
    assert not scanner.scan(json.dumps("xDE89370400440532013000").encode())
    assert not DETECTORS["iban"].find("xDE89370400440532013000")
