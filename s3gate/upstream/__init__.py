"""The object store behind the gateway."""

from __future__ import annotations

from s3gate.upstream.base import Upstream
from s3gate.upstream.settings import UpstreamSettings


def build_upstream(settings: UpstreamSettings) -> Upstream:
    if settings.type == "local":
        from s3gate.upstream.local import LocalUpstream

        return LocalUpstream(settings.path)
    from s3gate.upstream.s3 import S3Upstream

    return S3Upstream(settings)
