"""Red team: a client cannot make `audit show` (or `approvals list/show`)
print a line the audit trail does not hold. Object keys, token subjects and
reasons are client text; before this, a key with a newline printed a whole
forged, `[ok]`-marked event line, and ESC sequences reached the auditor's
terminal as they were (cursor moves, title changes).
"""

from __future__ import annotations

from typing import Any

import pytest

from s3gate.audit.verify.show import Entry, printable, render_line
from s3gate.commands.approvals import render

FORGED = (
    "2026-12-08T03:00:00.000000Z  request  DeleteObject  audit/s3gate/v1/x  "
    "alice[analyst]  allow/allowed  204  req=FAKE replica=dev  [ok]"
)

CASES = [
    ("newline", "a\nb", "a\\x0ab"),
    ("carriage return", "a\rb", "a\\x0db"),
    ("ESC sequence", "a\x1b[1A\x1b[2Kb", "a\\x1b[1A\\x1b[2Kb"),
    ("OSC title", "a\x1b]0;pwned\x07", "a\\x1b]0;pwned\\x07"),
    ("NUL and DEL", "a\x00\x7f", "a\\x00\\x7f"),
    ("C1 CSI", "a\x9bb", "a\\x9bb"),
    ("Unicode line separator", "a\u2028b\u2029", "a\\u2028b\\u2029"),
    ("right-to-left override", "a\u202eb\u2066", "a\\u202eb\\u2066"),
    ("backslash", "a\\x0a", "a\\\\x0a"),
    ("ordinary text kept", "alpha/run-1.jsonl é 中", "alpha/run-1.jsonl é 中"),
]


@pytest.mark.parametrize(("name", "raw", "shown"), CASES, ids=[c[0] for c in CASES])
def test_printable(name: str, raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_keeps_only_what_it_is_told() -> None:
    assert printable("a\nb\x1b[2K\tc", keep="\n\t") == "a\nb\\x1b[2K\tc"


def _event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time": "2026-12-08T03:00:09.003595Z",
        "id": "e1",
        "type": "request",
        "operation": "PutObject",
        "bucket": "traces",
        "key": "alpha/n",
        "principal": {"subject": "dev-admin"},
        "decision": "allow",
        "outcome": "allowed",
        "status": 200,
        "replica_id": "dev",
    }
    return base | fields


@pytest.mark.parametrize(
    "event",
    [
        _event(key="alpha/n\n" + FORGED),
        _event(principal={"subject": "bob\n" + FORGED}),
        _event(details={"reason": "ok\n" + FORGED}),
        _event(key="alpha/\x1b[1A\x1b[2K" + FORGED),
    ],
    ids=["key", "subject", "details", "escape sequence"],
)
def test_an_event_shows_as_one_line_whatever_it_carries(event: dict[str, Any]) -> None:
    line = render_line(Entry(event, verified=False, manifest_key="m"))
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("[UNVERIFIED]")


def test_approvals_show_escapes_client_text_but_keeps_the_preview_lines() -> None:
    hold = {
        "id": "h1",
        "status": "pending",
        "requester": {"subject": "alpha-bot\nrequester  trusted-bot", "issuer": "dev"},
        "bucket": "traces",
        "key": "alpha/x\x1b[3A\x1b[2Kheld for   nothing",
        "reasons": ["masking:write-strict:internal_projects"],
        "rules": [{"name": "security", "required": 1, "approvers": ["security"]}],
        "size": 3,
        "sha256": "ab",
        "bundle_hash": "cd",
        "created": "t0",
        "expires": "t1",
        "valid_approvals": 0,
        "approvals": [{"subject": "sec\n1", "at": "t2", "reason": "r\x1b[2K"}],
        "preview_note": "as your read view shows it",
        "preview": '{"a":1}\n{"b":"\x1b[5A"}\n',
    }
    text = render(hold)
    assert "\x1b" not in text
    assert "requester  alpha-bot\\x0arequester  trusted-bot (issuer dev)" in text
    assert "sec\\x0a1 at t2: r\\x1b[2K" in text
    assert '{"a":1}\n{"b":"\\x1b[5A"}' in text  # the preview keeps its lines
