"""`s3gate dev env` / `dev token`: the running dev gateway's data and port,
or a clear refusal — never a fresh ./data with a key nobody knows."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3gate import cli, devmode

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def _started(data: Path, port: int) -> None:
    devmode.dev_key(data)  # what `s3gate dev` creates on its first start
    devmode.record_started(data, "127.0.0.1", port)


def test_env_prints_the_port_the_gateway_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "gw-data"
    _started(data, 9317)
    assert cli.main(["dev", "env", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:9317" in out
    key = devmode.dev_key(data)
    assert f"export AWS_ACCESS_KEY_ID={key.access_key_id}" in out


def test_env_elsewhere_finds_the_running_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "checkout" / "data"
    _started(data, 9444)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["dev", "env"]) == 0
    captured = capsys.readouterr()
    assert "http://127.0.0.1:9444" in captured.out
    assert f"AWS_ACCESS_KEY_ID={devmode.dev_key(data).access_key_id}" in captured.out
    assert str(data.resolve()) in captured.err and "(running)" in captured.err
    assert not (elsewhere / "data").exists()


@pytest.mark.parametrize("command", ["env", "token"])
def test_without_a_gateway_it_says_so_and_creates_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["dev", command] + (["--sub", "alice"] if command == "token" else [])
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "no development gateway data here" in captured.err
    assert "make run" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "data").exists()


def test_an_explicit_empty_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dev", "env", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "no development gateway data in" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()


def test_a_dead_gateway_is_reported_as_not_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    devmode.dev_key(data)
    # A process id that is certainly gone: a child that has exited.
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    state = data / "dev" / "gateway.json"
    record = {"data_dir": str(data), "host": "127.0.0.1", "port": 9555, "pid": int(child.stdout)}
    state.write_text(json.dumps(record))
    found = devmode.find_gateway(data)
    assert found.port == 9555 and not found.running
    assert devmode.DevGateway(data, "127.0.0.1", 1, os.getpid()).running
    assert not devmode.DevGateway(data, "127.0.0.1", 1, 0).running  # never recorded


def test_make_run_installs_only_the_gateway_and_passes_the_port() -> None:
    dry = subprocess.run(
        ["make", "-n", "-B", "run", "PORT=9123", "VENV=/nonexistent-venv"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "pip install --quiet -e .\n" in dry
    assert "[dev]" not in dry
    assert "s3gate dev --port 9123" in dry
    test = subprocess.run(
        ["make", "-n", "-B", "test", "VENV=/nonexistent-venv"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "-e '.[dev]'" in test


def test_gitignore_covers_the_tour_tokens() -> None:
    patterns = (REPO / ".gitignore").read_text().split()
    assert any(fnmatch.fnmatch("alice.jwt", p) for p in patterns)


def test_the_banner_uses_the_chosen_port(tmp_path: Path) -> None:
    text = devmode.banner(tmp_path / "data", "127.0.0.1", 9123)
    assert "http://127.0.0.1:9123" in text and ":9000" not in text
