"""A replica id that does not match the chain in the audit directory is a
configuration error at load time, naming the key and both ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3gate import config
from s3gate.audit.write.state import ShipState, StateStore


def _load(data_dir: Path, replica: str) -> config.Settings:
    return config.load(
        overrides={
            "data_dir": str(data_dir),
            "audit": {"generate_key": True, "replica_id": replica},
        }
    )


def _chain_of(data_dir: Path, replica: str) -> None:
    store = StateStore(data_dir / "audit" / "state")
    store.load(replica)  # creates the directory
    store.save(ShipState(replica_id=replica))


def test_no_chain_yet_is_fine(tmp_path: Path) -> None:
    assert _load(tmp_path, "gw-a").audit.replica_id == "gw-a"


def test_the_same_replica_continues_its_chain(tmp_path: Path) -> None:
    _chain_of(tmp_path, "gw-a")
    assert _load(tmp_path, "gw-a").audit.replica_id == "gw-a"


def test_another_replica_id_is_refused_with_the_fix(tmp_path: Path) -> None:
    _chain_of(tmp_path, "gw-a")
    with pytest.raises(config.ConfigError) as exc:
        _load(tmp_path, "gw-b")
    message = str(exc.value)
    assert "audit.replica_id" in message and "'gw-a'" in message and "'gw-b'" in message


def test_not_checked_when_audit_is_off(tmp_path: Path) -> None:
    _chain_of(tmp_path, "gw-a")
    settings = config.load(overrides={"data_dir": str(tmp_path), "audit": {"enabled": False}})
    assert not settings.audit.enabled
