"""The shipper's local state, replaced atomically after every step.

`state.json` records the chain tail (last sequence, its manifest's SHA-256
and signature), where in the spool shipping has reached, and — between
preparing a shipment and confirming it — the *pending* shipment: the exact
manifest bytes and a file with the exact batch bytes. After a crash the
pending shipment is uploaded again byte for byte, so the idempotent keys in
the bucket are overwritten with identical content and the chain never forks.

The file is written to a temporary name, fsynced, renamed over the old one,
and the directory fsynced: a crash leaves either the old or the new state.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s3gate.audit.write.segments import Position
from s3gate.files import write_atomic

STATE_FILE = "state.json"
PENDING_BATCH = "pending.batch"
VERSION = 1


@dataclass(frozen=True)
class Pending:
    sequence: int
    manifest_key: str
    manifest: str  # canonical JSON text, signature included
    batch_key: str | None  # None for a heartbeat
    batch_sha256: str | None
    end: Position  # spool position after the batch's last event
    events: int
    frame_bytes: int


@dataclass(frozen=True)
class ShipState:
    replica_id: str
    sequence: int = 0  # last manifest confirmed in the bucket; 0 = none yet
    manifest_sha256: str | None = None
    signature: str | None = None
    signed_at: str | None = None
    key_id: str | None = None  # the key that signed it (to notice rotations)
    position: Position = field(default_factory=lambda: Position(0, 0))
    pending: Pending | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShipState:
        if data.get("version") != VERSION:
            raise ValueError(f"unknown audit state version {data.get('version')!r}")
        pending = data.get("pending")
        if pending is not None:
            pending = Pending(**{**pending, "end": Position(**pending["end"])})
        return cls(
            replica_id=data["replica_id"],
            sequence=data["sequence"],
            manifest_sha256=data["manifest_sha256"],
            signature=data["signature"],
            signed_at=data["signed_at"],
            key_id=data["key_id"],
            position=Position(**data["position"]),
            pending=pending,
        )


class StateStore:
    """Reads and atomically replaces `state.json` and the pending batch."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self.batch_path = directory / PENDING_BATCH

    def _read(self) -> Any:
        """The state file's JSON, or None when there is no chain yet."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None

    def owner(self) -> str | None:
        """The replica whose chain this directory continues (None: no chain yet)."""
        data = self._read()
        owner = data.get("replica_id") if isinstance(data, dict) else None
        return owner if isinstance(owner, str) else None

    def load(self, replica_id: str) -> ShipState:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = self._read()
        if data is None:
            return ShipState(replica_id=replica_id)
        state = ShipState.from_json(data)
        if state.replica_id != replica_id:
            # The chain in this directory belongs to another replica name;
            # continuing it under a new name would fork both chains.
            raise ValueError(
                f"audit state in {self.directory} belongs to replica {state.replica_id!r}, "
                f"not {replica_id!r}"
            )
        return state

    def save(self, state: ShipState) -> None:
        write_atomic(self.path, json.dumps(state.to_json(), indent=1).encode())

    def save_batch(self, data: bytes) -> None:
        write_atomic(self.batch_path, data)

    def load_batch(self) -> bytes:
        return self.batch_path.read_bytes()

    def drop_batch(self) -> None:
        self.batch_path.unlink(missing_ok=True)
