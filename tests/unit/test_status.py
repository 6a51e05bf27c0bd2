"""Public readiness: a status only, and a flood of probes costs the store at
most a few checks a second."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from s3gate.status import Readiness, coalesced, readyz


async def test_concurrent_probes_share_one_check() -> None:
    runs = 0

    async def check() -> Readiness:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.01)
        return Readiness(True, {"secret-ish": "bundle hash"})

    shared = coalesced(check)
    results = await asyncio.gather(*(shared() for _ in range(50)))
    assert runs == 1 and all(r.ready for r in results)


async def test_a_later_probe_gets_a_fresh_check() -> None:
    states = iter([False, True])

    async def check() -> Readiness:
        return Readiness(next(states), {})

    shared = coalesced(check)
    assert not (await shared()).ready
    assert (await shared()).ready


async def test_readyz_answers_a_status_and_no_details() -> None:
    async def check() -> Readiness:
        return Readiness(False, {"policy": {"bundle_hash": "abc"}, "audit": {"replica_id": "r"}})

    scope = {"type": "http", "method": "GET", "path": "/_s3gate/readyz", "headers": []}
    response = await readyz(check)(Request(scope))
    assert response.status_code == 503
    assert json.loads(bytes(response.body)) == {"status": "unavailable"}
