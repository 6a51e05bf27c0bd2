"""Command line: `s3gate serve`, `s3gate dev`, and the tools around them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.routing import BaseRoute

from s3gate import config, devmode
from s3gate.approvals.rules import ApprovalsPart
from s3gate.commands import approvals as approval_commands
from s3gate.commands import audit as audit_commands
from s3gate.commands import mask as mask_commands
from s3gate.commands import policy as policy_commands
from s3gate.commands import tokenkeys as token_key_commands
from s3gate.commands import views as view_commands
from s3gate.identity import devissuer
from s3gate.identity.devauthorize import DevAuthorizer
from s3gate.masking.checks import MaskingExamplesSuite
from s3gate.masking.profiles import MaskingPart
from s3gate.policy.loader import BundlePart
from s3gate.policy.source import BundleError
from s3gate.transform.tokenkeys import TokenKeyError, TokenKeys, generate_json

# The variable uvicorn (and gunicorn) read for a number of server processes.
WEB_CONCURRENCY = "WEB_CONCURRENCY"
ONE_PROCESS = (
    "s3gate serves from one process per pod (or per host): masking already "
    "runs in `masking.workers` worker processes on every core, and each "
    "serving process would be a replica of its own (its own audit chain, spool "
    "and masking pool in the same data_dir). For more serving capacity run "
    "more replicas; see docs/deployment.md, 'Masking workers'."
)


def refuse_many_servers(requested: int | None, environ: Mapping[str, str]) -> None:
    """Refuse `--workers N` / `WEB_CONCURRENCY=N` for N other than 1 (uvicorn
    would otherwise read the variable and exit with a warning about import
    strings, or fork servers that share one data_dir)."""
    asked: list[str] = []
    if requested is not None and requested != 1:
        asked.append(f"--workers {requested}")
    raw = environ.get(WEB_CONCURRENCY)
    if raw is not None and raw.strip() != "1":
        asked.append(f"{WEB_CONCURRENCY}={raw[:20]!r}")
    if asked:
        raise config.ConfigError(f"{' and '.join(asked)}: {ONE_PROCESS}")


def _run_server(settings: config.Settings, extra_routes: Sequence[BaseRoute] = ()) -> None:
    import uvicorn

    from s3gate import httplimits
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
    server = settings.server
    refusals = httplimits.Refusals()
    uvicorn.run(
        create_app(settings, extra_routes=extra_routes, refusals=refusals.counts),
        host=server.host,
        port=server.port,
        # The request limits are enforced by the protocol itself, while the
        # head is parsed (see s3gate.httplimits), not by the application.
        http=httplimits.protocol_class(httplimits.HeadLimits.from_settings(server), refusals),
        workers=1,  # never from WEB_CONCURRENCY (refused before, see refuse_many_servers)
        ws="none",  # no WebSocket endpoint: an upgrade request stays plain HTTP
        access_log=False,
        log_level=settings.log_level,
        # S3 clients keep connections open between requests; uvicorn's 5 s
        # default makes them reconnect (and sometimes race a closing socket).
        timeout_keep_alive=server.keep_alive_timeout_seconds,
        server_header=False,
        # X-Forwarded-* are read only from the configured proxies; with none
        # configured they are not read at all (uvicorn would default to
        # trusting 127.0.0.1).
        proxy_headers=bool(server.forwarded_allow_ips),
        forwarded_allow_ips=list(server.forwarded_allow_ips),
        **ssl,  # type: ignore[arg-type]
    )


def cmd_serve(args: argparse.Namespace) -> int:
    refuse_many_servers(args.workers, os.environ)
    settings = config.load(args.config)
    _run_server(settings)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    if args.dev_command in ("env", "token"):
        # Never a fresh ./data with a new key: the running gateway's data, or a clear no.
        try:
            found = devmode.find_gateway(args.data_dir)
        except devmode.NoDevGateway as exc:
            print(f"s3gate: {exc}", file=sys.stderr)
            return 2
        if args.data_dir is None:
            state = "running" if found.running else "not running now"
            print(f"# s3gate dev data: {found.data_dir} ({state})", file=sys.stderr)
        if args.dev_command == "token":
            return _dev_token(args, found.data_dir)
        host = args.host or found.host
        port = args.port or found.port
        print("\n".join(devmode.env_lines(found.data_dir, host, port)))
        return 0
    refuse_many_servers(None, os.environ)
    data_dir = args.data_dir or devmode.DEFAULT_DATA_DIR
    host = args.host or devmode.DEFAULT_HOST
    port = args.port or devmode.DEFAULT_PORT
    settings = devmode.dev_settings(data_dir, host, port)
    # The dev issuer's routes exist only here, never under `s3gate serve`.
    issuer = devissuer.load(data_dir, devissuer.issuer_url(host, port))
    authorizer = DevAuthorizer(
        issuer, {devissuer.WEB_CLIENT_ID: f"{devmode.web_url(host, port)}/callback"}
    )
    devmode.record_started(data_dir, host, port)
    print(devmode.banner(data_dir, host, port), flush=True)
    _run_server(settings, extra_routes=[*issuer.routes(), *authorizer.routes()])
    return 0


def _dev_token(args: argparse.Namespace, data_dir: Path) -> int:
    if not args.sub:
        print("s3gate: dev token needs --sub", file=sys.stderr)
        return 2
    try:
        print(devissuer.cli_token(data_dir, args.sub, args.groups, args.ttl, args.aud, args.claims))
    except ValueError as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    return 0


def _masking_part() -> list[BundlePart]:
    # Example checks do not depend on the token key: a scratch one will do.
    return [MaskingPart(TokenKeys.from_json(generate_json())), ApprovalsPart()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway from a configuration file")
    serve.add_argument("--config", type=Path, default=None, help="YAML settings file")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes: only 1 (masking uses masking.workers processes; "
        "scale out with replicas)",
    )
    serve.set_defaults(func=cmd_serve)

    dev = sub.add_parser("dev", help="run a development gateway on a local directory store")
    dev.add_argument("dev_command", nargs="?", choices=["run", "env", "token"], default="run")
    dev.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data folder (run: default ./data; env/token: default ./data if it holds a "
        "dev key, else the running dev gateway's)",
    )
    dev.add_argument("--host", default=None, help="default 127.0.0.1 (env: the recorded one)")
    dev.add_argument("--port", type=int, default=None, help="default 9000 (env: the recorded one)")
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
    approval_commands.register(sub)
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
