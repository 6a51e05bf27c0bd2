"""`s3gate token-keys generate|rotate`: valid key files, 0600, rotation keeps
old keys, bad input refused without touching the file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from s3gate.cli import main
from s3gate.transform.tokenkeys import TokenKeys


def _keys(path: Path) -> TokenKeys:
    return TokenKeys.from_json(path.read_text())


def test_generate_prints_a_valid_key_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token-keys", "generate", "--kid", "t1"]) == 0
    keys = TokenKeys.from_json(capsys.readouterr().out)
    assert keys.active == "t1" and keys.kids == ("t1",)


def test_generate_writes_0600_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "token-keys.json"
    assert main(["token-keys", "generate", "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    before = out.read_text()
    assert main(["token-keys", "generate", "--out", str(out)]) == 1
    assert out.read_text() == before
    assert _keys(out).active == "k1"


def test_rotate_adds_an_active_key_and_keeps_the_old_ones(tmp_path: Path) -> None:
    out = tmp_path / "token-keys.json"
    main(["token-keys", "generate", "--out", str(out)])
    first = _keys(out)
    old_token = first.token("alice@example.com")
    assert main(["token-keys", "rotate", str(out)]) == 0
    assert main(["token-keys", "rotate", str(out), "--kid", "z9"]) == 0
    rotated = _keys(out)
    assert rotated.active == "z9" and set(rotated.kids) == {"k1", "k2", "z9"}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # Old tokens are still recognised: the old key material is unchanged.
    assert rotated.tokens_for("alice@example.com")["k1"] == old_token
    assert rotated.token("alice@example.com") != old_token


@pytest.mark.parametrize(
    "argv",
    [
        ["--kid", "BAD"],  # not a key id
        ["--kid", "k1"],  # already there
    ],
)
def test_rotate_refuses_bad_input_without_touching_the_file(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "token-keys.json"
    main(["token-keys", "generate", "--out", str(out)])
    before = out.read_text()
    assert main(["token-keys", "rotate", str(out), *argv]) == 2
    assert out.read_text() == before
    assert "s3gate:" in capsys.readouterr().err


def test_rotate_refuses_a_malformed_file(tmp_path: Path) -> None:
    out = tmp_path / "token-keys.json"
    out.write_text(json.dumps({"active": "k1", "keys": {"k1": "not base64!"}}))
    assert main(["token-keys", "rotate", str(out)]) == 2
    assert main(["token-keys", "rotate", str(tmp_path / "missing.json")]) == 2
