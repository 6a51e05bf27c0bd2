"""Fixtures of the audit tests: an audit bucket on the local directory store
or on a moto S3 server over real HTTP. Tests taking `store` run on both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate.upstream.base import Upstream
from s3gate.upstream.local import LocalUpstream
from s3gate.upstream.s3 import S3Upstream
from tests.unit.audit.helpers import Store
from tests.unit.upstream.s3.fixtures import moto_endpoint, settings_for

__all__ = ["moto_endpoint"]


async def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    upstream: Upstream
    if kind == "local":
        upstream, bucket = LocalUpstream(tmp_path / "store"), "audit"
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        # One moto server for the session: a bucket of its own per test.
        upstream, bucket = S3Upstream(settings_for(endpoint)), f"audit-{uuid.uuid4().hex[:16]}"
    await upstream.start()
    await upstream.create_bucket(bucket)
    return Store(upstream, bucket, kind)


@pytest.fixture(params=["local", "moto"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _open(request.param, tmp_path, request)
    try:
        yield opened
    finally:
        await opened.upstream.close()


@pytest.fixture
async def local(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _open("local", tmp_path, request)
    try:
        yield opened
    finally:
        await opened.upstream.close()


@pytest.fixture
async def moto(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _open("moto", tmp_path, request)
    try:
        yield opened
    finally:
        await opened.upstream.close()
