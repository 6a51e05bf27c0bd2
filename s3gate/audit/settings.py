"""Settings of the audit subsystem (`audit:` in the YAML file).

The defaults keep the audit bucket at most about ten seconds behind the
gateway: a batch is shipped once `batch_max_events` events are waiting or the
oldest waiting event is `batch_max_seconds` old, whichever comes first, and a
heartbeat manifest is written after `heartbeat_seconds` without one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from s3gate.configbase import Section

MiB = 1024 * 1024


class AuditSettings(Section):
    # `configbase`, not `config`: `config` imports this module to nest it
    # under `Settings.audit`.
    enabled: bool = True
    # The upstream bucket that receives batches, manifests and public keys.
    # Through the gateway nobody may write or delete there.
    bucket: str = "audit"
    # Everything the gateway writes lives under this prefix (a version in the
    # path leaves room for a future incompatible layout next to this one).
    prefix: str = Field(default="s3gate/v1", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    # Stable, unique name of this replica: it names the replica's chain in the
    # bucket. Two processes must never share one (their chains would clash);
    # keep it together with the data directory that holds the spool (for
    # example the StatefulSet pod name). None: the host name.
    replica_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,128}$")
    # Spool and shipping state; None: `<data_dir>/audit`.
    dir: Path | None = None
    # Ed25519 key files. The first is the active signing key (a private PEM);
    # the others are earlier keys, private or public PEM, whose public halves
    # stay published so manifests they signed still verify after a rotation.
    signing_keys: tuple[Path, ...] = ()
    # Development convenience: with no signing_keys, create (once) and use
    # `<dir>/keys/<kid>.private.pem`. Leave off in production, where the key
    # comes from a secret store and its public half is pinned by auditors.
    generate_key: bool = False
    batch_max_events: int = Field(default=1000, ge=1, le=100_000)
    batch_max_seconds: float = Field(default=5.0, gt=0, le=3600)
    heartbeat_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # A spool segment file is closed and a new one started past this size.
    segment_max_bytes: int = Field(default=64 * MiB, ge=4096)
    # Retry of a failed shipment: exponential backoff between these bounds.
    retry_min_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # close() waits this long for the final shipment before leaving the rest
    # in the spool for the next start.
    close_timeout_seconds: float = Field(default=10.0, ge=0)
    # The digest of a streamed response body in its completion event:
    # BLAKE3 (`blake3_returned`) costs the loop's cores about 60% of
    # SHA-256's CPU per byte on large GETs; `sha256` (`sha256_returned`)
    # where only FIPS-approved digests may be used. Bodies answered in one
    # go always carry SHA-256. See docs/audit.md, "Digests of returned bodies".
    returned_digest: Literal["blake3", "sha256"] = "blake3"

    def directory(self, data_dir: Path) -> Path:
        return self.dir if self.dir is not None else data_dir / "audit"

    def problems(self) -> list[str]:
        """What would stop the audit log from starting, for `config.load` to
        report with the other configuration errors."""
        if not self.enabled:
            return []
        if not self.signing_keys and not self.generate_key:
            return [
                "audit.signing_keys: give the signing key file (s3gate keys generate "
                "--out DIR), or set audit.generate_key for development"
            ]
        return [
            f"audit.signing_keys.{i}: {path} is not a readable file"
            for i, path in enumerate(self.signing_keys)
            if not (path.is_file() and os.access(path, os.R_OK))
        ]
