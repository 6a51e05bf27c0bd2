"""Operators and JSON field rules, on JSONL records."""

from __future__ import annotations

import json

import pytest

from s3gate.transform.errors import MaskingBlocked, MaskingHeld
from tests.unit.transform.helpers import KEYS, mask, profile

EMAIL = "alice.smith@example.com"


def _one(text: str, record: object) -> dict[str, object]:
    out, _ = mask(profile(text), json.dumps(record).encode() + b"\n")
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def test_redact_uses_label() -> None:
    out = _one("detectors: {email: redact}", {"m": f"mail {EMAIL} now"})
    assert out == {"m": "mail [REDACTED:EMAIL] now"}
    out = _one("detectors: {email: {operator: redact, label: PII}}", {"m": EMAIL})
    assert out == {"m": "[REDACTED:PII]"}


def test_mask_keeps_last_n() -> None:
    out = _one("detectors: {phone: {operator: mask, keep_last: 4}}", {"m": "call (415) 555-0132"})
    assert out == {"m": "call **********0132"}


def test_tokenize_is_keyed_stable_and_normalised() -> None:
    out = _one("detectors: {email: tokenize}", {"a": EMAIL, "b": EMAIL.upper()})
    assert out["a"] == out["b"] == KEYS.token(EMAIL)
    assert str(out["a"]).startswith("tok_k1_")


def test_drop_removes_the_member_or_element() -> None:
    record = {"keep": 1, "contact": f"{EMAIL}", "list": ["x", EMAIL, "y"], "last": EMAIL}
    out = _one("detectors: {email: drop}", record)
    assert out == {"keep": 1, "list": ["x", "y"]}


def test_drop_in_text_removes_the_match() -> None:
    out, _ = mask(
        profile("detectors: {email: drop}"), f"to {EMAIL}.\n".encode(), content_type="text/plain"
    )
    assert out == b"to .\n"


def test_block_names_rule_not_value() -> None:
    with pytest.raises(MaskingBlocked) as caught:
        mask(profile("detectors: {email: block}"), json.dumps({"m": EMAIL}).encode())
    assert caught.value.status == 403 and caught.value.code == "AccessDenied"
    assert "p:email" in caught.value.message and EMAIL not in caught.value.message


def test_hold_refuses_with_approval_message_and_block_wins() -> None:
    with pytest.raises(MaskingHeld) as held:
        mask(profile("detectors: {email: hold}"), json.dumps({"m": EMAIL}).encode())
    assert "approval" in held.value.message
    both = profile("detectors: {email: hold, us_ssn: block}")
    data = json.dumps({"m": EMAIL}).encode() + b"\n" + json.dumps({"s": "536-22-1234"}).encode()
    with pytest.raises(MaskingBlocked):
        mask(both, data)


def test_field_paths() -> None:
    text = """
fields:
  - {id: user-email, path: $.user.email, operator: tokenize}
  - {id: pw, path: $..password, operator: drop}
  - {id: content, path: '$.messages[*].content', operator: redact}
  - {id: second, path: '$.tags[1]', operator: redact}
"""
    record = {
        "user": {"email": "not-an-email", "password": "a"},
        "deep": {"x": [{"password": "b"}]},
        "messages": [{"role": "user", "content": "hi"}, {"role": "a", "content": {"k": 1}}],
        "tags": ["a", "b", "c"],
    }
    out = _one(text, record)
    assert out == {
        "user": {"email": KEYS.token("not-an-email")},
        "deep": {"x": [{}]},
        "messages": [
            {"role": "user", "content": "[REDACTED:CONTENT]"},
            {"role": "a", "content": "[REDACTED:CONTENT]"},
        ],
        "tags": ["a", "[REDACTED:SECOND]", "c"],
    }


def test_key_globs_are_case_insensitive() -> None:
    out = _one(
        "fields: [{id: tokens, key: '*token*', operator: redact}]",
        {"Access_Token": "x", "nested": {"refreshTOKEN": 5}, "other": "y"},
    )
    assert out == {
        "Access_Token": "[REDACTED:TOKENS]",
        "nested": {"refreshTOKEN": "[REDACTED:TOKENS]"},
        "other": "y",
    }


def test_scoped_detectors_apply_only_inside_the_field() -> None:
    text = """
detectors:
  codename: {terms: [nightjar], scope: fields, operator: redact,
             examples: {positive: [nightjar], negative: [night]}}
fields:
  - {id: content, path: '$..content', detectors: [codename]}
"""
    out = _one(text, {"content": "nightjar plan", "title": "nightjar"})
    assert out == {"content": "[REDACTED:CODENAME] plan", "title": "nightjar"}


def test_keep_rule_leaves_a_field_alone() -> None:
    text = "detectors: {email: redact}\nfields: [{id: ok, path: $.public, operator: keep}]"
    out = _one(text, {"public": EMAIL, "private": EMAIL})
    assert out == {"public": EMAIL, "private": "[REDACTED:EMAIL]"}


def test_whole_value_rules_on_numbers_and_containers() -> None:
    text = "fields: [{id: n, path: $.n, operator: tokenize}, {id: o, path: $.o, operator: redact}]"
    out = _one(text, {"n": 42, "o": {"a": [1, 2]}})
    assert out == {"n": KEYS.token("42"), "o": "[REDACTED:O]"}


def test_secret_keys_in_json_are_masked_whole() -> None:
    out = _one(
        "detectors: {secret_assignment: redact, bearer_token: redact}",
        {
            "api_key": "a8f5f167f44f4964",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz"},
            "max_tokens": 99,
        },
    )
    assert out == {
        "api_key": "[REDACTED:SECRET]",
        "headers": {"Authorization": "[REDACTED:BEARER_TOKEN]"},
        "max_tokens": 99,
    }


def test_keys_are_masked_too() -> None:
    out = _one("detectors: {email: tokenize}", {EMAIL: {"orders": 3}})
    assert out == {KEYS.token(EMAIL): {"orders": 3}}


def test_strongest_operator_wins_on_overlap() -> None:
    text = "detectors: {email: tokenize, url_password: redact}"
    out = _one(text, {"u": "https://bob:pw1234@db.example.com/x"})
    assert out == {"u": "https://bob:[REDACTED:URL_PASSWORD]@db.example.com/x"}


def test_composition_takes_strongest_operator_and_all_rules() -> None:
    a = profile("detectors: {email: tokenize}", "a")
    b = profile("detectors: {email: redact}\nfields: [{id: x, path: $.x, operator: drop}]", "b")
    out, summary = mask([a, b], json.dumps({"m": EMAIL, "x": 1}).encode())
    assert json.loads(out) == {"m": "[REDACTED:EMAIL]"}
    assert summary.profiles == ("a", "b") and summary.rules["b:x"] == 1
