"""Settings of the store behind the gateway (`upstream:` in the YAML file).

Built on `configbase` only, so that the upstream box reads its settings
without importing `s3gate.config` (which assembles every box's sections).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from s3gate.configbase import Secret, Section


class UpstreamSettings(Section):
    type: Literal["s3", "local"] = "s3"
    # s3: any S3 endpoint. Empty endpoint_url means AWS for `region`.
    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: Literal["path", "virtual"] = "path"
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    verify_tls: bool = True
    ca_bundle: Path | None = None
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)
    pool_size: int = Field(default=64, ge=1)
    # local: a persistent directory store.
    path: Path = Path("./data/store")
    # Buckets created at start-up when missing.
    create_buckets: tuple[str, ...] = ()
