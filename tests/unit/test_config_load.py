"""Configuration errors are reported all at once, and the "complete example"
of docs/configuration.md loads as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from s3gate import config
from s3gate.audit import keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def complete_example() -> str:
    text = DOC.read_text()
    section = text[text.index("## A complete example") :]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def _mounted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's environment: its secrets mounted (under tmp_path rather
    than /run/secrets), its variables set, ./policies beside it."""
    secrets = tmp_path / "run" / "secrets"
    (secrets / "audit").mkdir(parents=True)
    (secrets / "ingest-key").write_text("ingest-secret\n")
    signing = keys.generate(tmp_path / "keys")
    (secrets / "audit" / "signing-key.pem").write_bytes(signing.private_pem())
    monkeypatch.setenv("UPSTREAM_ACCESS_KEY_ID", "AKIAUPSTREAM")
    monkeypatch.setenv("UPSTREAM_SECRET_ACCESS_KEY", "upstream-secret")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s3gate.yaml"
    path.write_text(complete_example().replace("/run/secrets/", f"{secrets}/"))
    return path


def test_the_complete_example_loads_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = config.load(_mounted(tmp_path, monkeypatch))
    assert settings.upstream.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert settings.static_keys[0].secret_access_key.resolve() == "ingest-secret"
    assert settings.audit.enabled and settings.audit.signing_keys


def test_the_complete_example_is_plain_yaml_with_no_placeholders() -> None:
    data = yaml.safe_load(complete_example())
    assert set(data) >= {"server", "upstream", "static_keys", "audit"}
    assert "…" not in complete_example()


def test_field_errors_and_missing_secrets_come_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI_SECRET", raising=False)
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "server": {"port": 70000},
                "static_keys": [
                    {
                        "access_key_id": "AKIAEXAMPLESERVICE01",
                        "secret_access_key": {"env": "CI_SECRET"},
                        "principal": {"name": "ci"},
                    }
                ],
                "upstream": {"secret_access_key": {"file": str(tmp_path / "missing")}},
            }
        )
    )
    with pytest.raises(config.ConfigError) as exc:
        config.load(path)
    text = str(exc.value)
    assert "server.port:" in text
    assert "static_keys.0.secret_access_key: environment variable CI_SECRET is not set" in text
    assert "upstream.secret_access_key: cannot read secret file" in text
    # The audit section's own problem too, in the same report.
    assert "audit.signing_keys:" in text


def test_a_valid_file_still_reports_every_secret_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_1", raising=False)
    monkeypatch.delenv("NOPE_2", raising=False)
    path = tmp_path / "ok.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "audit": {"enabled": False},
                "upstream": {
                    "access_key_id": {"env": "NOPE_1"},
                    "secret_access_key": {"env": "NOPE_2"},
                },
            }
        )
    )
    with pytest.raises(config.ConfigError) as exc:
        config.load(path)
    assert "NOPE_1" in str(exc.value) and "NOPE_2" in str(exc.value)
