"""The command line: `s3gate keys generate`, `s3gate audit verify` and
`s3gate audit show` against moto over HTTP, with credentials from the
standard AWS environment variables."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import stat
import uuid
from pathlib import Path

import pytest

from s3gate.audit.events import MaskingSummary, PrincipalInfo
from s3gate.audit.keys import load_private
from s3gate.audit.write.builders import RequestEvent
from s3gate.audit.write.log import AuditLog
from s3gate.commands.audit import parse_duration, parse_since, register
from s3gate.upstream.s3 import S3Upstream
from tests.unit.audit.helpers import Store, batch_key, put, settings
from tests.unit.upstream.s3.fixtures import settings_for


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="s3gate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def shipped(moto_endpoint: str, tmp_path: Path) -> tuple[Store, Path]:
    """A chain in moto written by an AuditLog whose key was made by the CLI."""
    assert run(["keys", "generate", "--out", str(tmp_path / "keys")]) == 0
    private = next((tmp_path / "keys").glob("*.private.pem"))
    (tmp_path / "trusted").mkdir()
    public = private.with_name(private.name.replace(".private", ""))
    (tmp_path / "trusted" / public.name).write_bytes(public.read_bytes())

    async def write() -> Store:
        upstream = S3Upstream(settings_for(moto_endpoint))
        await upstream.start()
        store = Store(upstream, f"audit-{uuid.uuid4().hex[:12]}", "moto")
        await upstream.create_bucket(store.bucket)
        audit = AuditLog(
            settings(tmp_path, store, signing_keys=(private,), generate_key=False),
            upstream,
            "gw-0",
            data_dir=tmp_path,
        )
        await audit.start()
        for n, who in enumerate(["alice", "bob", "alice"]):
            ev = RequestEvent(f"REQ{n}", operation="GetObject", bucket="traces", key=f"run-{n}")
            ev.principal = PrincipalInfo(who, "AKIDEXAMPLE", role="analyst")
            ev.decide("allow", policy_ids=("analysts-read",))
            ev.masking = MaskingSummary("analyst-view", {"email": n})
            await audit.record(ev.decision())
            await audit.record(ev.completion(200, bytes_out=10 * n))
        await audit.close()
        await upstream.close()
        return store

    return asyncio.run(write()), tmp_path


def reading(endpoint: str, store: Store) -> list[str]:
    return ["--endpoint-url", endpoint, "--audit-bucket", store.bucket]


def test_keys_generate_writes_private_public_and_jwk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "generate", "--out", str(tmp_path)]) == 0
    private = next(tmp_path.glob("*.private.pem"))
    kid = private.name.split(".")[0]
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_private(private).kid == kid
    assert json.loads((tmp_path / f"{kid}.json").read_text())["kid"] == kid
    assert (tmp_path / f"{kid}.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    out = capsys.readouterr().out
    assert kid in out and "fingerprint" in out
    assert run(["keys", "show", str(tmp_path / f"{kid}.pem")]) == 0


def test_verify_passes_on_a_clean_chain(
    env: None, moto_endpoint: str, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, tmp = shipped
    argv = [
        "audit",
        "verify",
        *reading(moto_endpoint, store),
        "--trusted-keys",
        str(tmp / "trusted"),
    ]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "RESULT: OK" in out and "replica gw-0" in out


def test_verify_names_a_tampered_object_and_fails(
    env: None, moto_endpoint: str, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, tmp = shipped

    async def tamper() -> None:
        upstream = S3Upstream(settings_for(moto_endpoint))
        await upstream.start()
        await put(Store(upstream, store.bucket, "moto"), batch_key(1), b"not the batch")
        await upstream.close()

    asyncio.run(tamper())
    argv = [
        "audit",
        "verify",
        *reading(moto_endpoint, store),
        "--trusted-keys",
        str(tmp / "trusted"),
    ]
    assert run(argv) == 1
    out = capsys.readouterr().out
    assert f"FAIL modified    {batch_key(1)}" in out and "RESULT: FAILED" in out


def test_verify_trust_options(
    env: None, moto_endpoint: str, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, tmp = shipped
    base = ["audit", "verify", *reading(moto_endpoint, store)]
    assert run(base) == 2  # no trusted key: refuses rather than "verifying" nothing
    assert "no trusted keys" in capsys.readouterr().err
    kid = next((tmp / "trusted").glob("*.pem")).name.split(".")[0]
    assert run([*base, "--pin", kid]) == 0
    assert run([*base, "--pin", "0" * 16]) == 2
    assert run([*base, "--trust-bucket-keys"]) == 0
    assert "not a trust anchor" in capsys.readouterr().err
    key_file = next((tmp / "trusted").glob("*.pem"))
    assert run([*base, "--key-file", str(key_file), "--since", "1h"]) == 0


def test_verify_unreachable_endpoint_exits_3(
    env: None, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, tmp = shipped
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["audit", "verify", *reading(f"http://127.0.0.1:{port}", store)]
    assert run([*argv, "--trusted-keys", str(tmp / "trusted")]) == 3
    assert "cannot read the audit bucket" in capsys.readouterr().err


def test_show_by_subject_and_request(
    env: None, moto_endpoint: str, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, tmp = shipped
    base = ["audit", "show", *reading(moto_endpoint, store), "--trusted-keys", str(tmp / "trusted")]
    assert run([*base, "--subject", "alice", "--since", "1h"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4  # two requests, each a decision and a completion
    assert all("alice[analyst]" in line and line.endswith("[ok]") for line in lines)
    assert "request.decision" in lines[0] and "request.completion" in lines[1]
    assert "mask=analyst-view(email=2)" in lines[3]

    assert run([*base, "--request-id", "REQ1", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert {e["request_id"] for e in events} == {"REQ1"}
    assert [e["type"] for e in events] == ["request.decision", "request.completion"]

    assert run([*base, "--bucket", "traces", "--key", "run-*"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6


def test_show_without_trusted_keys_warns_unverified(
    env: None, moto_endpoint: str, shipped: tuple[Store, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = shipped
    assert run(["audit", "show", *reading(moto_endpoint, store), "--request-id", "REQ0"]) == 1
    captured = capsys.readouterr()
    assert "[UNVERIFIED]" in captured.out
    assert "signatures are not checked" in captured.err


def test_durations_and_times() -> None:
    assert (
        parse_duration("5m") == 300
        and parse_duration("90") == 90
        and parse_duration("2d") == 172800
    )
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")
    assert parse_since("2030-01-01T00:00:00Z").year == 2030
    assert parse_since("2030-01-01T00:00:00").tzinfo is not None
