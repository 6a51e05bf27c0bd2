from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.identity.idp import FakeIdP, SigningKey, make_key


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    """Generated once per run: RSA generation is the slow part."""
    return {
        "rsa1": make_key("RS256", "rsa-1"),
        "rsa2": make_key("RS256", "rsa-2"),
        "ec": make_key("ES256", "ec-1"),
        "ed": make_key("EdDSA", "ed-1"),
    }


@pytest.fixture
async def idp(keys: dict[str, SigningKey]) -> AsyncIterator[FakeIdP]:
    server = await FakeIdP(keys=[keys["rsa1"], keys["ec"], keys["ed"]]).start()
    yield server
    await server.stop()
