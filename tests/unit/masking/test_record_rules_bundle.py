"""Record rules as part of the policy bundle: a bundle whose schema cannot
be used is rejected at load (and on reload the old bundle stays, its rules
still in force)."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3gate.masking.profiles import MaskingPart, profiles_for
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError
from s3gate.policy.store import PolicyStore
from tests.unit.policy.helpers import write_bundle
from tests.unit.transform.helpers import KEYS, mask

POLICY = '@id("w") @mask("v") permit (principal, action in Action::"write", resource);\n'
GOOD = """profile: v
records:
  - {id: shape, action: reject_record, schema: {type: object, required: [trace_id]}}
"""
REMOTE = """profile: v
records:
  - {id: shape, action: reject_record, schema: {$ref: 'https://example.com/s.json'}}
"""


def _bundle(tmp_path: Path, profile: str) -> Path:
    return write_bundle(tmp_path / "p", {"access/main.cedar": POLICY, "masking/v.yaml": profile})


def test_a_bundle_with_a_remote_schema_reference_does_not_load(tmp_path: Path) -> None:
    directory = _bundle(tmp_path, REMOTE)
    with pytest.raises(BundleError, match="remote references are refused"):
        PolicyStore(PolicySettings(dir=directory), parts=[MaskingPart(KEYS)])


def test_a_reload_to_a_broken_schema_keeps_the_old_rules(tmp_path: Path) -> None:
    directory = _bundle(tmp_path, GOOD)
    store = PolicyStore(PolicySettings(dir=directory), parts=[MaskingPart(KEYS)])
    good = store.current()
    (directory / "masking" / "v.yaml").write_text(REMOTE.replace("$ref: 'https", "type: 'nope"))
    outcome = store.reload("manual")
    assert outcome.status == "rejected" and "does not compile" in (outcome.error or "")
    assert store.current() is good
    out, summary = mask(profiles_for(store.current(), ["v"]), b'{"trace_id":1}\n{"x":1}\n')
    assert out == b'{"trace_id":1}\n' and summary.records_rejected == 1
