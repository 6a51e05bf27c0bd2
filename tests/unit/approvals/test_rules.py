"""approvals.yaml: parsing, defaults, refusals."""

from __future__ import annotations

import pytest

from s3gate.approvals.rules import ApprovalsPart, parse_duration, parse_rules
from s3gate.policy.source import BundleError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), (45, 45)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["0", "-5m", "1w", "h", "", "1.5h", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text, "x")


def test_defaults() -> None:
    rules = parse_rules("holds: sec\nrules:\n  sec: {approvers: [security]}\n")
    rule = rules.get("sec")
    assert rule is not None and rules.holds == "sec"
    assert (rule.required, rule.self_approval, rule.reason_required) == (1, False, True)
    assert (rule.pending_ttl_seconds, rule.grant_window_seconds) == (86400, 3600)
    assert rule.may_approve(("x", "security")) and not rule.may_approve(("x",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {a: {}}", "approvers"),
        ("rules: {a: {approvers: []}}", "approvers"),
        ("rules: {a: {approvers: [s], required: 0}}", "required"),
        ("rules: {a: {approvers: [s], required: true}}", "required"),
        ("rules: {a: {approvers: [s], self_approval: yes please}}", "self_approval"),
        ("rules: {a: {approvers: [s], colour: blue}}", "unknown"),
        ("holds: b\nrules: {a: {approvers: [s]}}", "not defined"),
        ("other: 1", "unknown"),
        ("- a", "mapping"),
    ],
)
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(text)


def test_the_bundle_part_rejects_a_bad_file_and_tolerates_none() -> None:
    part = ApprovalsPart()
    assert part.load({}).rules == {}
    with pytest.raises(BundleError) as caught:
        part.load({"approvals.yaml": b"rules: {a: {}}"})
    assert caught.value.problems[0].file == "approvals.yaml"
