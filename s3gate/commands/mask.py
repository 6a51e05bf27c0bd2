"""`s3gate mask`: mask a local file exactly as the gateway would.

    s3gate mask --profile write-default [--profile …] [--profiles-dir policies/masking]
                [--keys FILE] [--content-type T] [--key NAME] [--explain] < in > out

`--explain` prints counts per detector, rule and operator to stderr (never
values). Exit status: 0 masked, 3 refused (block / hold / limit), 2 usage or
profile error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from s3gate import errors
from s3gate.transform.engine import Masker
from s3gate.transform.profile import ProfileError, load_profiles
from s3gate.transform.settings import Limits
from s3gate.transform.tokenkeys import TokenKeyError, TokenKeys, dev_keys

CHUNK = 1024 * 1024
REFUSED = 3
DEFAULT_KEYS = Path("./data/masking/token-keys.json")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mask = subparsers.add_parser(
        "mask", help="mask a file locally with masking profiles (a dry run of the gateway)"
    )
    mask.add_argument("--profile", action="append", required=True, help="profile name (repeatable)")
    mask.add_argument("--profiles-dir", type=Path, default=Path("policies/masking"))
    mask.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="token key file (JSON); default: $S3GATE_MASK_KEYS, else a dev key "
        f"created at {DEFAULT_KEYS}",
    )
    mask.add_argument("--content-type", default=None, help="as the Content-Type header")
    mask.add_argument("--content-encoding", default=None, help="as Content-Encoding (gzip)")
    mask.add_argument("--key", default="", help="object key (its extension is a content hint)")
    mask.add_argument("--explain", action="store_true", help="counts to stderr, no values")
    mask.add_argument("--max-record-bytes", type=int, default=Limits().max_record_bytes)
    mask.set_defaults(func=cmd_mask)


def _keys(path: Path | None) -> TokenKeys:
    if path is None and os.environ.get("S3GATE_MASK_KEYS"):
        path = Path(os.environ["S3GATE_MASK_KEYS"])
    if path is None:
        return dev_keys(DEFAULT_KEYS)
    return TokenKeys.from_json(path.read_text())


def cmd_mask(args: argparse.Namespace) -> int:
    try:
        profiles = load_profiles(args.profiles_dir, _keys(args.keys))
        chosen = [profiles.get(name) for name in args.profile]
    except (ProfileError, TokenKeyError, KeyError, OSError) as exc:
        print(f"s3gate mask: {exc}", file=sys.stderr)
        return 2
    limits = Limits(max_record_bytes=args.max_record_bytes)
    masker = Masker(
        chosen,
        content_type=args.content_type,
        content_encoding=args.content_encoding,
        key=args.key,
        limits=limits,
    )
    status = 0
    try:
        asyncio.run(_pump(masker, sys.stdin.buffer, sys.stdout.buffer))
    except errors.S3Error as exc:
        print(f"s3gate mask: refused: {exc.error_code}: {exc.message}", file=sys.stderr)
        status = REFUSED
    if args.explain:
        print(masker.summary.explain(), file=sys.stderr)
    return status


async def _pump(masker: Masker, source: BinaryIO, sink: BinaryIO) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            data = source.read(CHUNK)
            if not data:
                return
            yield data

    # Buffer the output so that nothing is written when the object is refused,
    # as the gateway stores nothing then. Bounded by a temporary file.

    with tempfile.TemporaryFile() as spool:
        async for piece in masker.transform(chunks()):
            spool.write(piece)
        spool.seek(0)
        while data := spool.read(CHUNK):
            sink.write(data)
        sink.flush()
