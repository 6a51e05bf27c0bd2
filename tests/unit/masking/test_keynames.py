"""Object keys through the write profile (masking.metadata.check_key): a key
cannot be rewritten and reaches every listing, so a finding refuses."""

from __future__ import annotations

import pytest

from s3gate.masking.metadata import check_key
from s3gate.transform.errors import KeyRefused
from s3gate.transform.plan import plan_for
from s3gate.transform.summary import MaskSummary
from tests.unit.transform.helpers import example


def check(key: str, profile: str = "write-default") -> None:
    check_key(key, plan_for([example(profile)]), MaskSummary())


@pytest.mark.parametrize(
    "key",
    [
        "alpha/jane.canary@example.com/run.jsonl",
        "alpha/jane.canary%40example.com/run.jsonl",  # percent-encoded in the key itself
        "alpha/AKIAIOSFODNN7EXAMPLE.jsonl",
        "alpha/4111111111111111/run.jsonl",
        "logs/10.0.0.1/run.jsonl",  # ipv4 is tokenized by write-default: refused too
        "runs/" + "sk-ant-api03-" + "Zx9_Qw-7" * 10 + "AA" + "/trace.jsonl",
    ],
)
def test_a_key_with_a_finding_is_refused_naming_rules_not_the_key(key: str) -> None:
    with pytest.raises(KeyRefused) as exc:
        check(key)
    assert exc.value.code == "InvalidArgument"
    assert exc.value.rule_ids
    for part in key.split("/")[1:2]:
        assert part not in exc.value.message


@pytest.mark.parametrize(
    "key",
    [
        "alpha/2026-12-08/run-42.jsonl",
        "support-bot/conversations/0001.jsonl",
        "a/b/c/d/e.txt",
        "traces/user-7f3a9c/turns.jsonl",
        "",
    ],
)
def test_ordinary_keys_pass(key: str) -> None:
    check(key)
