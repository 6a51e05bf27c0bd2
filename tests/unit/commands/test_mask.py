"""`s3gate mask` as a user runs it."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from s3gate.commands import mask as commands
from s3gate.transform.tokenkeys import generate_json
from tests.unit.transform.helpers import PROFILES_DIR


def _run(argv: list[str], stdin: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes, str]:
    parser = argparse.ArgumentParser(prog="s3gate")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out, err = io.BytesIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    monkeypatch.setattr(sys, "stderr", err)
    status = args.func(args)
    sys.stdout.flush()
    return status, out.getvalue(), err.getvalue()


def test_mask_explain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(generate_json("t1"))
    record = json.dumps({"to": "alice@example.com", "key": "AKIAIOSFODNN7EXAMPLE"}).encode()
    status, out, err = _run(
        [
            "mask",
            "--profile",
            "write-default",
            "--profiles-dir",
            str(PROFILES_DIR),
            "--keys",
            str(keys),
            "--explain",
        ],
        record + b"\n",
        monkeypatch,
    )
    assert status == 0
    assert b"alice@example.com" not in out and b"tok_t1_" in out
    assert "email" in err and "aws_access_key_id" in err
    assert "alice" not in err and "AKIA" not in err


def test_refused_object_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(generate_json())
    pem = b'{"k": "-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----"}\n'
    status, out, err = _run(
        [
            "mask",
            "--profile",
            "write-strict",
            "--profiles-dir",
            str(PROFILES_DIR),
            "--keys",
            str(keys),
        ],
        pem,
        monkeypatch,
    )
    assert status == commands.REFUSED and out == b"" and "AccessDenied" in err


def test_unknown_profile_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(generate_json())
    status, _, err = _run(
        ["mask", "--profile", "nope", "--profiles-dir", str(PROFILES_DIR), "--keys", str(keys)],
        b"",
        monkeypatch,
    )
    assert status == 2 and "nope" in err
