"""The keyed fast path (records flagged by a key-held-secret prefilter such
as `"authorization":`) gives exactly the walk's bytes and counts."""

from __future__ import annotations

import pytest

from s3gate.transform.jsonvalue import _mask_keyed
from s3gate.transform.jsonwalk import JsonMasker
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import ENTRY_KEY, plan_for
from s3gate.transform.summary import MaskSummary
from tests.tracegen import generate
from tests.unit.transform.helpers import example, profile

EXTRA = [
    b'{"Authorization": "Bearer abcdefghijklmnop0123", "to": "alice@example.com"}',
    b'{"headers": {"authorization": 12345678}, "n": [1, "bob@example.com"]}',
    b'{"a": {"Authorization": {"x": "carol@example.com"}}, "api_key": "s3cr3t-Value9"}',
    b'{"authorization" : "Basic dXNlcjpwYXNzd29yZA==", "phone": "+1 415 555 0132"}',
    b'{"proxy-authorization":"x","k":"\\u0040 dave@example.com","authorization":null}',
    b'[{"authorization": "Bearer tokentokentokentoken"}, "erin@example.com", 3]',
]


def _records() -> list[bytes]:
    data, _ = generate(300, seed=44, pii_rate=1.0, min_values=5)
    return [*data.splitlines(), *EXTRA]


def _hits(plan, record: bytes) -> tuple[list[tuple[int, int]], bool]:  # type: ignore[no-untyped-def]
    hits, keyed = [], False
    for entry, end in plan.scanner.scan(record):
        det = plan.entry_detector[entry]
        if det >= 0:
            hits.append((det, end))
        keyed = keyed or det == ENTRY_KEY
    return hits, keyed


@pytest.mark.parametrize("name", ["write-default", "analyst-view"])
def test_keyed_path_equals_the_walk(name: str) -> None:
    plan = plan_for([example(name)])
    assert plan.keyed_fast_path
    compared = 0
    for record in _records():
        hits, keyed = _hits(plan, record)
        if not keyed:
            continue
        fast, slow = MaskSummary(), MaskSummary()
        got = _mask_keyed(record, hits, RunContext(plan, fast))
        want = JsonMasker(record, hits, RunContext(plan, slow)).run()
        assert got == want, record
        assert fast.as_dict() == slow.as_dict(), record
        compared += 1
    assert compared > 40


def test_plans_whose_keys_could_hide_a_rule_walk() -> None:
    dropping = profile("detectors:\n  bearer_token: drop\n")
    assert not plan_for([dropping]).keyed_fast_path
    unicode_rule = profile(
        "detectors:\n  bearer_token: redact\nfields:\n  - {id: c, key: 'café', operator: redact}\n"
    )
    assert not plan_for([unicode_rule]).keyed_fast_path
