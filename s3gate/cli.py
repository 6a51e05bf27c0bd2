"""Command line: `s3gate serve`, `s3gate dev`, and the tools around them."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from starlette.routing import BaseRoute

from s3gate import config, devmode
from s3gate.audit import commands as audit_commands
from s3gate.identity import devissuer
from s3gate.masking import commands as view_commands
from s3gate.masking.checks import MaskingExamplesSuite
from s3gate.masking.profiles import MaskingPart
from s3gate.policy import commands as policy_commands
from s3gate.policy.source import BundleError
from s3gate.transform import commands as mask_commands
from s3gate.transform import keycommands as token_key_commands
from s3gate.transform.tokens import TokenKeyError, TokenKeys, generate_json


def _run_server(settings: config.Settings, extra_routes: Sequence[BaseRoute] = ()) -> None:
    import uvicorn

    from s3gate.app import create_app

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    tls = settings.server.tls
    ssl: dict[str, object] = {}
    if tls is not None:
        ssl = {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)}
        if tls.key_password is not None:
            ssl["ssl_keyfile_password"] = tls.key_password.resolve()
    uvicorn.run(
        create_app(settings, extra_routes=extra_routes),
        host=settings.server.host,
        port=settings.server.port,
        access_log=False,
        log_level=settings.log_level,
        # S3 clients keep connections open between requests; uvicorn's 5 s
        # default makes them reconnect (and sometimes race a closing socket).
        timeout_keep_alive=65,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.server.forwarded_allow_ips),
        **ssl,  # type: ignore[arg-type]
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    _run_server(settings)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    if args.dev_command == "env":
        print("\n".join(devmode.env_lines(args.data_dir, args.host, args.port)))
        return 0
    if args.dev_command == "token":
        return _dev_token(args)
    settings = devmode.dev_settings(args.data_dir, args.host, args.port)
    # The dev issuer's routes exist only here, never under `s3gate serve`.
    issuer = devissuer.load(args.data_dir, devissuer.issuer_url(args.host, args.port))
    print(devmode.banner(args.data_dir, args.host, args.port), flush=True)
    _run_server(settings, extra_routes=issuer.routes())
    return 0


def _dev_token(args: argparse.Namespace) -> int:
    if not args.sub:
        print("s3gate: dev token needs --sub", file=sys.stderr)
        return 2
    try:
        print(
            devissuer.cli_token(
                args.data_dir, args.sub, args.groups, args.ttl, args.aud, args.claims
            )
        )
    except ValueError as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    return 0


def _masking_part() -> list[MaskingPart]:
    # Example checks do not depend on the token key: a scratch one will do.
    return [MaskingPart(TokenKeys.from_json(generate_json()))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway from a configuration file")
    serve.add_argument("--config", type=Path, default=None, help="YAML settings file")
    serve.set_defaults(func=cmd_serve)

    dev = sub.add_parser("dev", help="run a development gateway on a local directory store")
    dev.add_argument("dev_command", nargs="?", choices=["run", "env", "token"], default="run")
    dev.add_argument("--data-dir", type=Path, default=Path("./data"))
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=9000)
    token = dev.add_argument_group("s3gate dev token", "print a development OIDC token")
    token.add_argument("--sub", help="the token's subject")
    token.add_argument(
        "--groups", action="append", default=[], help="groups, comma-separated or repeated"
    )
    token.add_argument("--ttl", default="1h", help="lifetime: 900, 15m, 1h, 1d (at most 1d)")
    token.add_argument("--aud", default=devissuer.AUDIENCE, help="audience (default s3gate)")
    token.add_argument(
        "--claim",
        dest="claims",
        action="append",
        default=[],
        help="extra claim name=value, e.g. team=alpha (repeatable)",
    )
    dev.set_defaults(func=cmd_dev)

    policy_commands.register(sub, parts=_masking_part, suites=[MaskingExamplesSuite()])
    mask_commands.register(sub)
    token_key_commands.register(sub)
    audit_commands.register(sub)
    view_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except config.ConfigError as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    except BundleError as exc:
        print(f"s3gate: policy bundle is invalid:\n{exc}", file=sys.stderr)
        return 2
    except TokenKeyError as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
