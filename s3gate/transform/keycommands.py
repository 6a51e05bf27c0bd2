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
import base64
import json
import os
import secrets
import sys
from pathlib import Path

from s3gate.transform.tokens import KID, MIN_KEY_BYTES, TokenKeyError, TokenKeys


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode("ascii")


def _document(keys: TokenKeys, raw: dict[str, str]) -> str:
    return json.dumps({"active": keys.active, "keys": raw}, indent=1) + "\n"


def _write_new(path: Path, text: str, *, replace: bool) -> None:
    """0600 from the start; `replace` swaps atomically (temp file + rename)."""
    target = path.with_name(path.name + ".tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(target, path)


def _check_kid(kid: str) -> None:
    if not KID.match(kid):
        raise TokenKeyError(f"key id {kid!r}: use 1 to 8 lower-case letters and digits")


def cmd_generate(args: argparse.Namespace) -> int:
    _check_kid(args.kid)
    raw = {args.kid: _new_key()}
    text = _document(TokenKeys({args.kid: base64.b64decode(raw[args.kid])}, args.kid), raw)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        _write_new(args.out, text, replace=False)
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
    raw[kid] = _new_key()
    rotated = TokenKeys({k: base64.b64decode(v) for k, v in raw.items()}, kid)
    _write_new(args.file, _document(rotated, raw), replace=True)
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
