"""Views made at write time (masking.materialise), from the writer's spool:
against the real local directory store, with the shipped profiles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3gate.masking import materialise, viewkeys
from s3gate.masking.profiles import MaskingPart
from s3gate.masking.spool import Spool
from s3gate.masking.views import ViewStore
from s3gate.policy.cedar import Bundle
from s3gate.policy.loader import load_bundle
from s3gate.policy.settings import PolicySettings
from s3gate.transform.settings import Limits
from s3gate.transform.tokenkeys import TokenKeys, generate_json
from s3gate.upstream.base import Body
from s3gate.upstream.local import LocalUpstream
from tests.unit.policy.helpers import POLICIES

B, K = "bkt", "run.jsonl"
RAW = b'{"note": "mail jane@example.com"}\n' * 5


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    part = MaskingPart(TokenKeys.from_json(generate_json()))
    return load_bundle(PolicySettings(dir=POLICIES), POLICIES, parts=[part])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalUpstream]:
    upstream = LocalUpstream(tmp_path / "store")
    await upstream.start()
    await upstream.create_bucket(B)
    try:
        yield upstream
    finally:
        await upstream.close()


async def _pieces() -> AsyncIterator[bytes]:
    yield RAW


async def _view_keys(store: LocalUpstream) -> list[str]:
    page = await store.list_objects(B, prefix=viewkeys.ROOT)
    return [o.key for o in page.contents]


@pytest.mark.parametrize(
    ("wanted", "stale", "masking_part", "made"),
    [
        (("analyst-view",), False, True, 1),
        ((), False, True, 0),  # none configured
        (("no-such-profile",), False, True, 0),  # not in this bundle: skipped
        (("analyst-view",), True, True, 0),  # overwritten meanwhile: readers build theirs
        (("analyst-view",), False, False, 0),  # a bundle without masking profiles
    ],
)
async def test_views_at_write(
    tmp_path: Path,
    store: LocalUpstream,
    bundle: Bundle,
    wanted: tuple[str, ...],
    stale: bool,
    masking_part: bool,
    made: int,
) -> None:
    result = await store.put_object(B, K, Body.of(RAW), {"content-type": "application/x-ndjson"})
    viewstore = ViewStore(tmp_path / "spool", Limits())
    used = bundle if masking_part else replace_extras(bundle)
    written = materialise.Written(
        upstream=store,
        views=viewstore,
        bundle=used,
        wanted=wanted,
        bucket=B,
        key=K,
        etag='"0000000000000000000000000000000"' if stale else result.etag,
    )
    (tmp_path / "w").mkdir()
    with Spool(tmp_path / "w") as spool:
        await spool.fill(_pieces())
        assert await materialise.at_write(written, spool) == made
    stored = await _view_keys(store)
    assert len(stored) == made
    if made:
        # The view is the masked bytes: the stored one, read back, has no address.
        stream = await store.get_object(B, stored[0])
        data = b"".join([piece async for piece in stream.body])
        await stream.aclose()
        assert b"jane@example.com" not in data and data


def replace_extras(bundle: Bundle) -> Bundle:
    """The same bundle without its masking part's result (Bundle is a plain
    class, not a dataclass)."""
    copy = object.__new__(Bundle)
    copy.__dict__.update(bundle.__dict__)
    copy.extras = {}
    return copy
