"""`s3gate token-keys generate|rotate`: the key file `tokenize` uses.

The file is the JSON that `masking.token_keys` points at (a Secret in
production). `generate` prints a new one (or writes it, 0600, never over an
existing file); `rotate` adds a key to a file and makes it active, keeping
the old ones so that their tokens are still recognised (`tokens_for`).
Neither ever prints key material except `generate` without `--out`, whose
output is meant for a pipe into a secret store.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from s3gate.files import write_atomic
from s3gate.transform.tokenkeys import KID, TokenKeyError, TokenKeys, generate_json, new_key


def _create(path: Path, text: str) -> None:
    """A new file, 0600 from the start; FileExistsError rather than overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _check_kid(kid: str) -> None:
    if not KID.match(kid):
        raise TokenKeyError(f"key id {kid!r}: use 1 to 8 lower-case letters and digits")


def cmd_generate(args: argparse.Namespace) -> int:
    _check_kid(args.kid)
    text = generate_json(args.kid) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        _create(args.out, text)
    except FileExistsError:
        print(f"s3gate: {args.out} exists; use `token-keys rotate` to add a key", file=sys.stderr)
        return 1
    print(f"token keys written to {args.out} (active key {args.kid})")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text()
    except OSError as exc:
        raise TokenKeyError(f"cannot read {args.file}: {exc.strerror}") from exc
    keys = TokenKeys.from_json(text)  # validates what is there before changing it
    raw: dict[str, str] = dict(json.loads(text)["keys"])
    kid = args.kid or next(f"k{n}" for n in range(1, 10**7) if f"k{n}" not in raw)
    _check_kid(kid)
    if kid in raw:
        raise TokenKeyError(f"key id {kid!r} is already in {args.file}")
    raw[kid] = new_key()
    rotated = json.dumps({"active": kid, "keys": raw}, indent=1) + "\n"
    TokenKeys.from_json(rotated)  # what is written must load
    write_atomic(args.file, rotated.encode())
    old = ", ".join(k for k in keys.kids if k != kid)
    print(f"{args.file}: active token key is now {kid} (kept: {old})")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser("token-keys", help="keys of the tokenize masking operator")
    sub = keys.add_subparsers(dest="token_keys_command", required=True)
    generate = sub.add_parser("generate", help="a new key file (stdout, or --out FILE)")
    generate.add_argument("--kid", default="k1", help="key id (default k1)")
    generate.add_argument("--out", type=Path, help="write here (0600); never overwrites")
    generate.set_defaults(func=cmd_generate)
    rotate = sub.add_parser("rotate", help="add a key to FILE and make it active")
    rotate.add_argument("file", type=Path)
    rotate.add_argument("--kid", help="new key id (default: the next free k<N>)")
    rotate.set_defaults(func=cmd_rotate)
