"""Issue 15: shared read views, measured against the unmasked path in one run.

Two gateways, each on its own local directory store: the first with two
keys, `masked` (writes through write-default, reads through analyst-view,
views built at write time) and `plain` (an admin: raw reads and writes, no
masking); the second, `lazy`, masks like `masked` without write-time views.

- analyst GET of a 256 MiB masked trace (its view made at write time): time to
  first byte and MB/s, vs the plain GET of the same object (alternating
  rounds, medians); also the first GET of a trace that has no view yet;
- listing 10,000 masked keys as the analyst vs as the plain reader (whole
  paginated listing; views made by the analyst's first listing);
- the analyst's first GET of a 256 MiB trace with no view yet (streamed while
  its view is made) vs the plain GET of the same object, same run
  (`views-live` runs only this part);
- storage and write-time cost of a materialised view as ratios: view bytes /
  stored bytes, and masked PUT time with / without the write-time view;
- a writer (list, no read) listing 10,000 keys it wrote masked (sent figures
  from its sources markers, one more LIST per page) vs 10,000 keys without
  markers, and vs an admin listing the same keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.credentials import Credentials
from yarl import URL

from benchmarks.load import MiB, S3Client, median, session
from benchmarks.servers import Server, start_gateway
from tests.tracegen import generate

POLICIES = Path(__file__).resolve().parents[1] / "policies"
BUCKET = "bench"
TRACE = 256 * MiB
LIST_KEYS = 10_000
ROUNDS = 3
POLICY = """
@id("bench.masked-write")
@mask("write-default")
permit (principal is Service in Group::"maskers", action in Action::"write", resource);

@id("bench.masked-read")
@mask("analyst-view")
permit (principal is Service in Group::"maskers", action in Action::"read", resource);

@id("bench.masked-list")
permit (principal is Service in Group::"maskers", action in Action::"list", resource);

@id("bench.sync-write")
@mask("write-default")
permit (principal is Service in Group::"syncers", action in Action::"write", resource);

@id("bench.sync-list")
permit (principal is Service in Group::"syncers", action in Action::"list", resource);
"""
_KEY = re.compile(r"<Key>([^<]*)</Key>")


async def _trace(total: int) -> AsyncIterator[bytes]:
    pool, _ = generate(2000, seed=21, pii_rate=0.1)
    sent = 0
    while sent < total:
        piece = pool[: total - sent]
        sent += len(piece)
        yield piece


def _signed(client: S3Client, method: str, url: str, extra: dict[str, str]) -> dict[str, str]:
    return client._headers(method, url, hashlib.sha256(b"").hexdigest(), extra)


async def _head_length(client: S3Client, key: str) -> int:
    url = client.url(BUCKET, key)
    async with client.session.head(url, headers=_signed(client, "HEAD", url, {})) as r:
        if r.status != 200:
            raise RuntimeError(f"HEAD {key}: {r.status}")
        return int(r.headers["Content-Length"])


async def _get(client: S3Client, key: str) -> tuple[float, float]:
    """(seconds to the first body byte, MiB/s of the whole body)."""
    url = client.url(BUCKET, key)
    start = time.perf_counter()
    first, total = 0.0, 0
    async with client.session.get(url, headers=_signed(client, "GET", url, {})) as r:
        if r.status != 200:
            raise RuntimeError(f"GET {key}: {r.status} {await r.text()}")
        async for chunk in r.content.iter_any():
            if not total:
                first = time.perf_counter() - start
            total += len(chunk)
    return first, total / MiB / (time.perf_counter() - start)


async def _list_all(client: S3Client, prefix: str) -> tuple[int, float]:
    """(keys, seconds) of a whole ListObjectsV2 pagination."""
    token: str | None = None
    keys = 0
    start = time.perf_counter()
    while True:
        params = {"list-type": "2", "prefix": prefix}
        if token:
            params["continuation-token"] = token
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items()))
        url = f"{client.url(BUCKET)}?{query}"
        headers = _signed(client, "GET", url, {})
        async with client.session.get(URL(url, encoded=True), headers=headers) as r:
            text = await r.text()
            if r.status != 200:
                raise RuntimeError(f"LIST: {r.status} {text[:300]}")
        keys += len(_KEY.findall(text))
        found = re.search(r"<NextContinuationToken>([^<]*)</NextContinuationToken>", text)
        if "<IsTruncated>true</IsTruncated>" not in text or found is None:
            return keys, time.perf_counter() - start
        token = found.group(1)


async def _put(client: S3Client, key: str, length: int) -> float:
    start = time.perf_counter()
    await client.put(BUCKET, key, _trace(length), length)
    return time.perf_counter() - start


def _keys(name: str, groups: tuple[str, ...]) -> tuple[dict[str, Any], Credentials]:
    key_id, secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    entry = {
        "access_key_id": key_id,
        "secret_access_key": {"value": secret},
        "principal": {"name": name, "groups": list(groups)},
    }
    return entry, Credentials(key_id, secret)


def _gateway(
    workdir: Path, store: str, policies: Path, keys: list[dict[str, Any]], **views: Any
) -> Server:
    extra: dict[str, Any] = {
        "upstream": {
            "type": "local",
            "path": str(workdir / store),
            "create_buckets": [BUCKET, "audit"],
        },
        "policy": {"dir": str(policies)},
        "static_keys": keys,
        "views": views,
    }
    return start_gateway(workdir / store, None, extra)


async def run(workdir: Path) -> dict[str, float]:
    return await _run(workdir, part="all")


async def listing_only(workdir: Path) -> dict[str, float]:
    """`python -m benchmarks views-list`: only the 10,000-key listing parts."""
    return await _run(workdir, part="listing")


async def sources_only(workdir: Path) -> dict[str, float]:
    """`python -m benchmarks views-sources`: only the writer's listing part."""
    return await _run(workdir, part="sources")


async def _run(workdir: Path, *, part: str) -> dict[str, float]:
    """On the local directory store (moto's server on this 2-core machine
    manages about 100 requests/s, too few to build 10,000 views in a bench)."""
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "bench-views.cedar").write_text(POLICY)
    analyst_key, analyst = _keys("analyst", ("maskers",))
    admin_key, admin = _keys("admin", ("admins",))
    lazy_key, lazy = _keys("lazy", ("maskers",))
    writer_key, writer = _keys("writer", ("syncers",))
    gws: list[Server] = []
    try:
        main = _gateway(workdir, "store-a", policies, [analyst_key, admin_key])
        gws.append(main)
        other = _gateway(
            workdir, "store-b", policies, [lazy_key, admin_key, writer_key], materialise=[]
        )
        gws.append(other)
        async with session() as http:
            clients = {
                "masked": S3Client(main, http, analyst),
                "plain": S3Client(main, http, admin),
                "lazy": S3Client(other, http, lazy),
                "lazy-plain": S3Client(other, http, admin),
                "writer": S3Client(other, http, writer),
            }
            out: dict[str, float] = {}
            if part == "all":
                await _transfers(clients, out)
            if part != "sources":
                await _listing(clients, out)
            await _writer_listing(clients, out)
            return out
    finally:
        for gw in gws:
            gw.stop()


def _note(out: dict[str, float], key: str, value: float) -> None:
    """Record a figure and show it at once (a later failure keeps the earlier ones)."""
    out[key] = value
    print(f"  .. {key:<34} {value:12.3f}", flush=True)


async def _transfers(clients: dict[str, S3Client], out: dict[str, float]) -> None:
    # Write-time cost: masked PUTs with and without the write-time view.
    with_view, without = [], []
    for i in range(ROUNDS):
        with_view.append(await _put(clients["masked"], f"w{i}.jsonl", TRACE))
        without.append(await _put(clients["lazy"], f"n{i}.jsonl", TRACE))
    _note(out, "views_put_with_view_s", median(with_view))
    _note(out, "views_put_without_view_s", median(without))
    _note(out, "views_write_time_ratio", median(with_view) / median(without))
    stored = await _head_length(clients["plain"], "w0.jsonl")
    view = await _head_length(clients["masked"], "w0.jsonl")
    _note(out, "views_storage_ratio", view / stored)  # extra bytes per view, per stored byte
    # GET of the 256 MiB trace: the analyst's view vs the raw object.
    ttfb: dict[str, list[float]] = {"masked": [], "plain": []}
    rate: dict[str, list[float]] = {"masked": [], "plain": []}
    for _ in range(ROUNDS):
        for name in ("masked", "plain"):
            first, mibps = await _get(clients[name], "w0.jsonl")
            ttfb[name].append(first)
            rate[name].append(mibps)
    _note(out, "views_get_ttfb_masked_s", median(ttfb["masked"]))
    _note(out, "views_get_ttfb_plain_s", median(ttfb["plain"]))
    _note(out, "views_get_masked_MiBps", median(rate["masked"]))
    _note(out, "views_get_plain_MiBps", median(rate["plain"]))
    _note(out, "views_get_throughput_ratio", median(rate["masked"]) / median(rate["plain"]))
    await _unbuilt(clients, [f"n{i}.jsonl" for i in range(ROUNDS)], out)


async def _unbuilt(clients: dict[str, S3Client], keys: list[str], out: dict[str, float]) -> None:
    """The analyst's first GET of a trace that has no view yet (written without
    one): streamed as its view is made (`masking.live`); vs the plain GET of
    the same object, alternating, medians. Each key has one first GET only."""
    ttfb: dict[str, list[float]] = {"lazy": [], "lazy-plain": []}
    rate: dict[str, list[float]] = {"lazy": [], "lazy-plain": []}
    for key in keys:
        for name in ("lazy", "lazy-plain"):
            first, mibps = await _get(clients[name], key)
            ttfb[name].append(first)
            rate[name].append(mibps)
    _note(out, "views_first_get_unbuilt_ttfb_s", median(ttfb["lazy"]))
    _note(out, "views_first_get_plain_ttfb_s", median(ttfb["lazy-plain"]))
    _note(out, "views_first_get_unbuilt_MiBps", median(rate["lazy"]))
    _note(out, "views_first_get_plain_MiBps", median(rate["lazy-plain"]))
    _note(
        out,
        "views_first_get_throughput_ratio",
        median(rate["lazy"]) / median(rate["lazy-plain"]),
    )
    second, mibps = await _get(clients["lazy"], keys[0])  # now from the stored view
    _note(out, "views_second_get_ttfb_s", second)


async def live_only(workdir: Path) -> dict[str, float]:
    """`python -m benchmarks views-live`: only the first GETs of traces with no
    view yet (written unmasked by an admin, i.e. around the masking)."""
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "bench-views.cedar").write_text(POLICY)
    lazy_key, lazy = _keys("lazy", ("maskers",))
    admin_key, admin = _keys("admin", ("admins",))
    gw = _gateway(workdir, "store-b", policies, [lazy_key, admin_key], materialise=[])
    try:
        async with session() as http:
            clients = {"lazy": S3Client(gw, http, lazy), "lazy-plain": S3Client(gw, http, admin)}
            keys = [f"n{i}.jsonl" for i in range(ROUNDS)]
            for key in keys:
                await _put(clients["lazy-plain"], key, TRACE)
            warm = b'{"warm": "jane@example.com"}\n'  # the matcher compiles on first use
            await clients["lazy-plain"].put(BUCKET, "warm.jsonl", warm, len(warm))
            await _get(clients["lazy"], "warm.jsonl")
            out: dict[str, float] = {}
            await _unbuilt(clients, keys, out)
            return out
    finally:
        gw.stop()


async def _listing(clients: dict[str, S3Client], out: dict[str, float]) -> None:
    # Listing 10,000 masked keys: written unmasked (no view), views made by
    # the analyst's first listing (lazily, `views.listing_builds` at a
    # time), then whole listings as analyst vs plain reader.
    body = generate(3, seed=5, pii_rate=1.0)[0]
    gate = asyncio.Semaphore(16)

    async def put_one(i: int) -> None:
        async with gate:
            await clients["plain"].put(BUCKET, f"many/{i:05d}.jsonl", body, len(body))

    await asyncio.gather(*(put_one(i) for i in range(LIST_KEYS)))
    keys, seconds = await _list_all(clients["masked"], "many/")
    _note(out, "views_first_listing_builds_10k_s", seconds)
    listing: dict[str, list[float]] = {"masked": [], "plain": []}
    for _ in range(ROUNDS):
        for name in ("masked", "plain"):
            keys, seconds = await _list_all(clients[name], "many/")
            if keys != LIST_KEYS:
                raise RuntimeError(f"{name} listed {keys} keys")
            listing[name].append(seconds)
    _note(out, "views_list_10k_masked_s", median(listing["masked"]))
    _note(out, "views_list_10k_plain_s", median(listing["plain"]))
    _note(out, "views_list_ratio", median(listing["plain"]) / median(listing["masked"]))


async def _writer_listing(clients: dict[str, S3Client], out: dict[str, float]) -> None:
    # A writer (may list, not read) listing 10,000 keys it wrote masked: each
    # page reads its range of the sources index (one LIST) and shows what it
    # sent. Against the same writer listing 10,000 keys written by another
    # principal (the LIST finds no marker) and an admin listing the writer's
    # keys (no lookup at all). No write-time views here (`store-b`).
    body = generate(3, seed=6, pii_rate=1.0)[0]
    gate = asyncio.Semaphore(16)

    async def put_one(who: str, key: str) -> None:
        async with gate:
            await clients[who].put(BUCKET, key, body, len(body))

    await asyncio.gather(*(put_one("writer", f"sync/{i:05d}.jsonl") for i in range(LIST_KEYS)))
    await asyncio.gather(
        *(put_one("lazy-plain", f"nosync/{i:05d}.jsonl") for i in range(LIST_KEYS))
    )
    runs: dict[str, list[float]] = {"markers": [], "none": [], "admin": []}
    for _ in range(ROUNDS):
        for name, who, prefix in (
            ("markers", "writer", "sync/"),
            ("none", "writer", "nosync/"),
            ("admin", "lazy-plain", "sync/"),
        ):
            keys, seconds = await _list_all(clients[who], prefix)
            if keys != LIST_KEYS:
                raise RuntimeError(f"{name} listed {keys} keys")
            runs[name].append(seconds)
    _note(out, "sources_list_10k_writer_markers_s", median(runs["markers"]))
    _note(out, "sources_list_10k_writer_none_s", median(runs["none"]))
    _note(out, "sources_list_10k_admin_s", median(runs["admin"]))
    _note(out, "sources_list_ratio_markers_none", median(runs["markers"]) / median(runs["none"]))
    _note(out, "sources_list_ratio_admin_markers", median(runs["admin"]) / median(runs["markers"]))
