"""`s3gate policy check | test | explain`."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from s3gate.commands.policy import register
from tests.unit.policy.helpers import POLICIES


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="s3gate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "check", str(POLICIES)) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_check_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    with (tmp_path / "p" / "access" / "analyst.cedar").open("a") as f:
        f.write(
            '\n@id("new")\npermit (principal, action, resource) when { resource.owner == "me" };\n'
        )
    assert run("policy", "check", str(tmp_path / "p")) == 1
    err = capsys.readouterr().err
    lines = (tmp_path / "p" / "access" / "analyst.cedar").read_text().splitlines()
    line = lines.index('@id("new")') + 1
    assert f"access/analyst.cedar:{line}: for policy `new`" in err


def test_test_runs_the_shipped_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "test", str(POLICIES), "-v") == 0
    out = capsys.readouterr().out
    assert "PASS tests/analyst.yaml:" in out
    assert " 0 failed" in out.splitlines()[-1]


def test_test_fails_and_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "tests" / "wrong.yaml").write_text(
        """cases:
  - name: analysts may write (they may not)
    principal: {subject: alice, role: analyst}
    action: PutObject
    resource: s3://traces/a/b
    expect: {decision: allow}
  - name: bad case
    principal: {subject: alice, colour: blue}
    action: GetObject
    resource: s3://traces/a/b
    expect: {decision: allow}
  - name: wrong obligations
    principal: {subject: alice, role: analyst}
    action: GetObject
    resource: s3://traces/a/b
    expect: {decision: allow, masks: [raw], policies: [x]}
"""
    )
    assert run("policy", "test", str(tmp_path / "p")) == 1
    out = capsys.readouterr().out
    assert "FAIL tests/wrong.yaml:2  analysts may write (they may not)" in out
    assert "expected allow, got deny" in out
    assert "FAIL tests/wrong.yaml:7  bad case" in out and "unknown principal keys: colour" in out
    assert "expected masks ['raw'], got ['analyst-view']" in out
    assert "expected policies ['x'], got ['analyst.read-traces']" in out
    assert "3 failed" in out.splitlines()[-1]


def test_other_kinds_of_test_files_are_left_to_other_suites(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "tests" / "masking.yaml").write_text("kind: masking\nexamples: []\n")
    assert run("policy", "test", str(tmp_path / "p")) == 0


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "policy", "explain", "--dir", str(POLICIES), "--sub", "alice", "--groups", "analysts",
        "--role", "analyst", "--action", "GetObject", "s3://traces/x.jsonl",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "decision:  ALLOW" in out
    assert "analyst.read-traces (access/analyst.cedar:" in out
    assert "masks:     analyst-view" in out
    assert "bundle:    " in out


def test_explain_denied_copy_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "policy", "explain", "--dir", str(POLICIES), "--sub", "bot", "--role", "trace-writer",
        "--claim", "team=alpha", "--action", "CopyObject", "--copy-source",
        "s3://traces/beta/x", "s3://traces/alpha/y", "--json",
    )  # fmt: skip
    assert code == 1
    out = capsys.readouterr().out
    assert '"allowed": false' in out and "trace-writer.no-reads" in out


def test_explain_rejects_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "policy", "explain", "--dir", str(POLICIES), "--sub", "a", "--action", "Frobnicate",
        "s3://traces/x",
    )  # fmt: skip
    assert code == 2
    assert "Frobnicate" in capsys.readouterr().err


APPROVAL_POLICY = """
@id("gated.write")
@approval("security")
permit (principal in Role::"trace-writer", action in Action::"write", resource)
when { resource.bucket == "traces" && resource has dir1 && resource.dir1 == "gated" };

@id("gated.read")
@approval("security")
permit (principal in Role::"break-glass", action in Action::"read", resource)
when { resource.bucket == "traces" && resource has dir1 && resource.dir1 == "gated" };
"""


def run_with_approvals(*argv: str) -> int:
    from s3gate.approvals.rules import ApprovalsPart

    parser = argparse.ArgumentParser(prog="s3gate")
    register(parser.add_subparsers(dest="command", required=True), parts=lambda: [ApprovalsPart()])
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


@pytest.mark.parametrize(
    ("role", "action", "code", "verdict"),
    [
        (
            "trace-writer",
            "PutObject",
            0,
            "ALLOW after approval by security (1 approval by group(s) security)",
        ),
        ("break-glass", "GetObject", 1, "only PutObject can wait for approval"),
    ],
)
def test_explain_says_allowed_after_approval(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    role: str,
    action: str,
    code: int,
    verdict: str,
) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "access" / "gated.cedar").write_text(APPROVAL_POLICY)
    got = run_with_approvals(
        "policy", "explain", "--dir", str(tmp_path / "p"), "--sub", "bot", "--role",
        role, "--action", action, "s3://traces/gated/x.jsonl",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert got == code
    assert verdict in out


def test_policy_test_asserts_allow_after_approval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "access" / "gated.cedar").write_text(APPROVAL_POLICY)
    (tmp_path / "p" / "tests" / "gated.yaml").write_text(
        """cases:
  - name: the write waits for security
    principal: {subject: bot, role: trace-writer}
    action: PutObject
    resource: s3://traces/gated/x
    expect: {decision: allow_after_approval, approvals: [security]}
  - name: a plain allow does not match a decision that needs a human
    principal: {subject: bot, role: trace-writer}
    action: PutObject
    resource: s3://traces/gated/y
    expect: {decision: allow}
"""
    )
    assert run_with_approvals("policy", "test", str(tmp_path / "p")) == 1
    out = capsys.readouterr().out
    assert "FAIL tests/gated.yaml:7" in out
    assert "expected allow, got allow_after_approval" in out
    assert "1 failed" in out.splitlines()[-1]
