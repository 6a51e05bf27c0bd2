"""`s3gate views rebuild`: make the read views of objects that lack one.

For objects written around the gateway (straight to the store), or after a
profile changed (a new profile digest is a new view family, so every view of
it is missing). It walks a bucket's keys under `--prefix` in listing order and
builds, for each profile set, the view that does not exist yet — existing ones
cost one LIST each and are skipped, so a run is incremental and can simply be
run again; `--start-after` resumes from the last key a run printed. Views are
built as the gateway builds them (same store layout, same bytes), so a
replica serving reads meanwhile never sees a difference.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from s3gate import config, errors
from s3gate.masking.keys import token_keys
from s3gate.masking.profiles import PART, MaskingPart
from s3gate.masking.upstreamput import Sizing
from s3gate.masking.views import ViewStore
from s3gate.policy.guards import Guards
from s3gate.policy.loader import load_bundle
from s3gate.transform.profile import MaskingProfiles, Profile
from s3gate.upstream import build_upstream
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate.masking")


@dataclass
class Progress:
    seen: int = 0
    built: int = 0
    present: int = 0
    refused: int = 0
    last_key: str = ""


async def rebuild(
    upstream: Upstream,
    store: ViewStore,
    bucket: str,
    prefix: str,
    sets: list[list[Profile]],
    guards: Guards,
    *,
    start_after: str | None = None,
    workers: int = 4,
    report: float = 10.0,
) -> Progress:
    progress = Progress()
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=workers * 4)

    async def work() -> None:
        while (key := await queue.get()) is not None:
            for profiles in sets:
                try:
                    view = await store.view(upstream, bucket, key, profiles)
                except errors.S3Error as exc:  # blocked by the profile, say
                    progress.refused += 1
                    log.info("no view of %s: %s", key, exc.code)
                    continue
                if view.built:
                    progress.built += 1
                else:
                    progress.present += 1

    tasks = [asyncio.create_task(work()) for _ in range(workers)]
    after, last_report = start_after, time.monotonic()
    while True:
        page = await upstream.list_objects(bucket, prefix=prefix, after=after)
        for obj in page.contents:
            if guards.internal_prefix(bucket, obj.key) is not None:  # the gateway's own
                continue
            await queue.put(obj.key)
            progress.seen += 1
            progress.last_key = obj.key
        if time.monotonic() - last_report > report:
            print(_line(progress), flush=True)
            last_report = time.monotonic()
        if not page.is_truncated or page.next_after is None:
            break
        after = page.next_after
    for _ in tasks:
        await queue.put(None)
    await asyncio.gather(*tasks)
    return progress


def _line(p: Progress) -> str:
    return (
        f"keys {p.seen}: built {p.built}, already there {p.present}, refused {p.refused}"
        f" (last key {p.last_key!r})"
    )


def _profile_sets(profiles: MaskingProfiles, wanted: list[str]) -> list[list[Profile]]:
    out = []
    for entry in wanted:
        names = entry.split("+")
        unknown = [n for n in names if n not in profiles.names]
        if unknown:
            raise SystemExit(f"s3gate: no masking profile named {', '.join(unknown)}")
        out.append([profiles.get(n) for n in names])
    return out


def cmd_rebuild(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    bundle = load_bundle(
        settings.policy, parts=[MaskingPart(token_keys(settings.masking, settings.data_dir))]
    )
    loaded = bundle.extras.get(PART)
    if not isinstance(loaded, MaskingProfiles):
        print("s3gate: the policy bundle has no masking profiles", file=sys.stderr)
        return 2
    sets = _profile_sets(loaded, args.profile or list(settings.views.materialise))
    if not sets:
        print("s3gate: no profiles to build views for (--profile or views.materialise)")
        return 2
    masking = settings.masking
    store = ViewStore(settings.data_dir / "spool", masking.limits(), sizing=Sizing.of(masking))

    async def run() -> Progress:
        upstream = build_upstream(settings.upstream)
        await upstream.start()
        try:
            return await rebuild(
                upstream,
                store,
                args.bucket,
                args.prefix,
                sets,
                bundle.guards,
                start_after=args.start_after,
                workers=args.workers,
            )
        finally:
            await upstream.close()

    progress = asyncio.run(run())
    print(_line(progress))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    views = subparsers.add_parser("views", help="shared masked read views")
    sub = views.add_subparsers(dest="views_command", required=True)
    rebuild_cmd = sub.add_parser(
        "rebuild", help="build the missing views of a bucket's objects (incremental)"
    )
    rebuild_cmd.add_argument("--config", type=Path, default=None, help="YAML settings file")
    rebuild_cmd.add_argument("--bucket", required=True)
    rebuild_cmd.add_argument("--prefix", default="", help="only keys under this prefix")
    rebuild_cmd.add_argument(
        "--profile",
        action="append",
        default=[],
        help="profile (or a+b) to build views of; repeatable; default views.materialise",
    )
    rebuild_cmd.add_argument("--start-after", default=None, help="resume after this key")
    rebuild_cmd.add_argument("--workers", type=int, default=4, help="objects at a time")
    rebuild_cmd.set_defaults(func=cmd_rebuild)
