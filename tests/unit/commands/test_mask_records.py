"""`s3gate mask --explain` with record rules: which records each rule
rejected, by line number, never their content."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3gate.transform.tokenkeys import generate_json
from tests.unit.commands.test_mask import _run
from tests.unit.transform.helpers import PROFILES_DIR

CANARY = "CANARY-rec-51d2"
TRACE = (
    '{"trace_id":"t-1","step":0}\n'
    f'{{"step":1,"note":"{CANARY}"}}\n'
    '{"trace_id":"t-1","step":2}\n'
    f'{{"trace_id":"t-1","step":3,"tool":{{"debug_dump":"{CANARY}"}}}}\n'
    f'{{"trace_id":"t-1","step":"four","note":"{CANARY}"}}\n'
).encode()


def _argv(keys: Path) -> list[str]:
    return [
        "mask",
        "--profile",
        "write-validated",
        "--profiles-dir",
        str(PROFILES_DIR),
        "--keys",
        str(keys),
        "--explain",
    ]


def test_explain_names_each_rule_and_the_lines_it_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(generate_json("t1"))
    status, out, err = _run(_argv(keys), TRACE, monkeypatch)
    assert status == 0
    assert out == b'{"trace_id":"t-1","step":0}\n{"trace_id":"t-1","step":2}\n'
    assert "records rejected: 3" in err
    rejected = {line.split()[1]: line for line in err.splitlines() if "rejected " in line[:12]}
    assert rejected["write-validated:trace-shape"].endswith("lines 2, 5")
    assert rejected["write-validated:no-debug-dumps"].endswith("lines 4")
    assert CANARY not in err  # line numbers, never content


def test_explain_of_a_refused_object_names_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(generate_json("t1"))
    body = TRACE + f'{{"trace_id":"t-1","raw_prompt":"{CANARY}"}}\n'.encode()
    status, out, err = _run(_argv(keys), body, monkeypatch)
    assert status == 3 and out == b""
    assert "blocked by: write-validated:no-raw-prompts" in err
    assert CANARY not in err
