"""Command line: `s3gate serve`, `s3gate dev`, and the tools around them."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from s3gate import config, devmode
from s3gate.policy import commands as policy_commands
from s3gate.policy.source import BundleError


def _run_server(settings: config.Settings) -> None:
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
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        access_log=False,
        log_level=settings.log_level,
        # S3 clients keep connections open between requests; uvicorn's 5 s
        # default makes them reconnect (and sometimes race a closing socket).
        timeout_keep_alive=65,
        server_header=False,
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
    settings = devmode.dev_settings(args.data_dir, args.host, args.port)
    print(devmode.banner(args.data_dir, args.host, args.port), flush=True)
    _run_server(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway from a configuration file")
    serve.add_argument("--config", type=Path, default=None, help="YAML settings file")
    serve.set_defaults(func=cmd_serve)

    dev = sub.add_parser("dev", help="run a development gateway on a local directory store")
    dev.add_argument("dev_command", nargs="?", choices=["run", "env"], default="run")
    dev.add_argument("--data-dir", type=Path, default=Path("./data"))
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=9000)
    dev.set_defaults(func=cmd_dev)

    policy_commands.register(sub)
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
    return result


if __name__ == "__main__":
    sys.exit(main())
