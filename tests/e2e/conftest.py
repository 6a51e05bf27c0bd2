"""Session-wide servers for the end-to-end suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from tests.e2e.harness import Gateway, direct_client, free_port, start_gateway, wait_http
from tests.e2e.tlscert import make_cert

IDENTITIES = {"admin": ("admins",), "writer": ("trace-writers",), "reader": ("analysts",)}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/")
    direct_client(endpoint).create_bucket(Bucket="audit")
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def gateway(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gateway"), moto_endpoint, IDENTITIES)
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def tls_gateway(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The same gateway over HTTPS: SDKs switch to aws-chunked CRC32 trailers there."""
    folder = tmp_path_factory.mktemp("tls-gateway")
    gw = start_gateway(folder, moto_endpoint, IDENTITIES, tls=make_cert(folder))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def direct(moto_endpoint: str) -> Any:
    return direct_client(moto_endpoint)


@pytest.fixture
def s3(gateway: Gateway) -> Any:
    return gateway.client("admin")


@pytest.fixture
def bucket(s3: Any, direct: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    # Clean through the upstream so a gateway bug cannot leak state between tests.
    for page in direct.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            direct.delete_object(Bucket=name, Key=obj["Key"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    direct.delete_bucket(Bucket=name)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
