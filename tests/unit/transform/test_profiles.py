"""Profile loading and validation, the example profiles, and the checker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from s3gate.transform.examples import check_examples
from s3gate.transform.profile import ProfileError, load_profiles
from tests.unit.transform.helpers import KEYS, PROFILES_DIR, profile


def test_example_profiles_load_and_pass_their_checks() -> None:
    profiles = load_profiles(PROFILES_DIR, KEYS)
    assert {"write-default", "analyst-view", "write-strict"} <= set(profiles.names)
    assert check_examples(profiles) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("detectors: {emial: redact}", "not a built-in detector"),
        ("detectors: {email: keep}", "'keep' is for field rules"),
        ("detectors: {email: explode}", "detectors.email.operator"),
        (
            "detectors: {x: {pattern: 'a(', examples: {positive: [a], negative: [b]}}}",
            "does not compile",
        ),
        (
            "detectors: {x: {pattern: 'a*', examples: {positive: [a], negative: [b]}}}",
            "empty string",
        ),
        ("detectors: {x: {pattern: 'ab'}}", "positive and negative examples"),
        (
            "detectors: {x: {pattern: 'ab', validator: nope, "
            "examples: {positive: [ab], negative: [b]}}}",
            "unknown validator",
        ),
        ("detectors: {x: {terms: [], examples: {positive: [a], negative: [b]}}}", "terms"),
        ("detectors: {email: {operator: redact, pattern: x}}", "cannot reuse a built-in id"),
        ("fields: [{id: a, path: 'user.email', operator: drop}]", "must start with '$'"),
        ("fields: [{id: a, path: '$.a', key: b, operator: drop}]", "exactly one of path, key"),
        ("fields: [{id: a, path: '$.a'}]", "give an operator"),
        ("fields: [{id: a, path: '$.a', detectors: [nope]}]", "unknown detector"),
        (
            "fields: [{id: a, path: $.a, operator: drop}, {id: a, path: $.b, operator: drop}]",
            "duplicate rule id",
        ),
        ("detectors: {email: redact}\ndetectors: {phone: redact}", "duplicate key"),
        ("detectors: {email: redact}\nsurprise: 1", "surprise"),
    ],
)
def test_invalid_profiles_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ProfileError) as caught:
        profile(text)
    assert reason in str(caught.value)
    assert "/virtual/p.yaml" in str(caught.value)


def test_one_bad_file_rejects_the_bundle(tmp_path: Path) -> None:
    for path in PROFILES_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.yaml").write_text("profile: broken\ndetectors: {nope: redact}\n")
    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path, KEYS)
    assert "broken.yaml" in str(caught.value) and len(caught.value.problems) == 1


def test_name_must_match_file_and_custom_ids_must_agree(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("profile: b\n")
    with pytest.raises(ProfileError, match="must match the file name"):
        load_profiles(tmp_path, KEYS)
    custom = (
        "detectors: {cid: {pattern: 'C-[0-9]{%d}', examples: {positive: [C-%s], negative: [C-]}}}\n"
    )
    (tmp_path / "a.yaml").write_text("profile: a\n" + custom % (3, "123"))
    (tmp_path / "b.yaml").write_text("profile: b\n" + custom % (4, "1234"))
    with pytest.raises(ProfileError, match="defined differently"):
        load_profiles(tmp_path, KEYS)


def test_checker_reports_failing_examples_and_tests() -> None:
    bad = profile(
        """
detectors:
  cid: {pattern: 'CUST-[0-9]{4}', examples: {positive: ['CUST-12'], negative: ['CUST-1234']}}
tests:
  - {name: leaks, input: '{"m": "CUST-9999"}', absent: ['CUST-9999']}
  - {name: wrong outcome, input: '{"m": 1}', outcome: blocked}
"""
    )
    failures = check_examples([bad])
    kinds = sorted((f.subject, f.kind) for f in failures)
    assert kinds == [
        ("detector cid", "negative"),
        ("detector cid", "positive"),
        ("test wrong outcome", "outcome"),
    ]
    assert all(f.file == "/virtual/p.yaml" for f in failures)
