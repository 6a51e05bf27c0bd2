"""What every group of S3 calls shares: the settings and the transport.

`S3Upstream` (`upstream.py`) is assembled from one mixin per group of calls
(`buckets`, `listing`, `objects`, `deletes`, `multipart`); each mixin builds
on `Calls`, which only declares the two attributes `S3Upstream.__init__`
sets, so a group's module holds its calls and nothing else.
"""

from __future__ import annotations

from s3gate.s3.model import Conditions
from s3gate.upstream.s3.http import Transport
from s3gate.upstream.settings import UpstreamSettings

NO_CONDITIONS = Conditions()


def version_query(version_id: str | None) -> list[tuple[str, str | None]]:
    """The `versionId` query of a call on one version (none: the current one)."""
    return [] if version_id is None else [("versionId", version_id)]


class Calls:
    """The state the call groups share; set by `S3Upstream.__init__`."""

    _settings: UpstreamSettings
    _http: Transport
