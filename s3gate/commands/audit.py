"""Command line: `s3gate audit verify`, `s3gate audit show`, `s3gate keys …`.

`register(subparsers)` adds the `audit` and `keys` commands to the main
parser; each sets `func(args) -> int` (the exit status).

Exit status of `audit verify`: 0 the chains verify, 1 problems were found
(each named in the report), 2 bad usage or no trusted key, 3 the bucket could
not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from s3gate import errors
from s3gate.audit import keys as keyfiles
from s3gate.audit.verify.reader import AuditReader, upstream_settings
from s3gate.audit.verify.show import Filters, render, timeline
from s3gate.audit.verify.verifier import Verifier
from s3gate.configbase import ConfigError
from s3gate.upstream.s3 import S3Upstream

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`90`, `30s`, `5m`, `1h`, `2d`, `1w` → seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h, 2d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_since(text: str) -> datetime:
    """A duration back from now (`1h`) or an ISO 8601 time (UTC if no zone)."""
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except argparse.ArgumentTypeError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time or duration: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UsageError(Exception):
    pass


Work = Callable[[AuditReader], Awaitable[int]]


def _reading_flags(parser: argparse.ArgumentParser, bucket_flags: list[str]) -> None:
    group = parser.add_argument_group("reading the audit bucket")
    group.add_argument(
        "--endpoint-url", help="S3 endpoint: the gateway or the store (default AWS_ENDPOINT_URL)"
    )
    group.add_argument("--region", help="region (default AWS_REGION or us-east-1)")
    group.add_argument(*bucket_flags, dest="audit_bucket", default="audit", help="audit bucket")
    group.add_argument("--prefix", default="s3gate/v1", help="key prefix of the audit layout")
    group.add_argument("--replica", action="append", help="only this replica (repeatable)")
    group.add_argument("--no-verify-tls", action="store_true", help="skip TLS verification")
    group.add_argument("--ca-bundle", type=Path, help="CA bundle for the endpoint")
    trust = parser.add_argument_group("trusted keys (what signatures are checked against)")
    trust.add_argument("--trusted-keys", type=Path, action="append", default=[], metavar="DIR")
    trust.add_argument("--key-file", type=Path, action="append", default=[], metavar="PEM")
    trust.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="KID",
        help="trust the key published in the bucket with this kid or SHA-256 fingerprint",
    )
    trust.add_argument(
        "--trust-bucket-keys",
        action="store_true",
        help="trust every key published in the bucket (self-consistency only: not a trust anchor)",
    )
    parser.add_argument(
        "--max-heartbeat-age",
        type=parse_duration,
        default=300.0,
        help="newest manifest must be younger than this (default 5m)",
    )


async def _trusted(args: argparse.Namespace, reader: AuditReader) -> dict[str, keyfiles.PublicKey]:
    trusted: dict[str, keyfiles.PublicKey] = {}
    for directory in args.trusted_keys:
        trusted.update(keyfiles.load_directory(directory))
    for path in args.key_file:
        key = keyfiles.load_public(path)
        trusted[key.kid] = key
    if args.pin or args.trust_bucket_keys:
        published = await reader.published_keys()
        for pin in args.pin:
            pin = pin.lower()
            match = [k for k in published.values() if pin in (k.kid, k.fingerprint)]
            if not match:
                raise UsageError(f"pinned key {pin} is not published in the bucket")
            trusted[match[0].kid] = match[0]
        if args.trust_bucket_keys:
            print(
                "warning: trusting keys read from the audit bucket itself, which is not a "
                "trust anchor (whoever can write the bucket can add a key): this checks "
                "consistency only. Pin keys (--pin, --trusted-keys) for a real verification.",
                file=sys.stderr,
            )
            trusted.update(published)
    return trusted


async def _with_reader(args: argparse.Namespace, work: Work) -> int:
    settings = upstream_settings(
        args.endpoint_url,
        args.region,
        verify_tls=not args.no_verify_tls,
        ca_bundle=args.ca_bundle,
    )
    upstream = S3Upstream(settings)
    await upstream.start()
    try:
        reader = AuditReader(upstream, args.audit_bucket, args.prefix)
        return await work(reader)
    finally:
        await upstream.close()


def _run(args: argparse.Namespace, work: Work) -> int:
    try:
        return asyncio.run(_with_reader(args, work))
    except (UsageError, keyfiles.KeyFileError, ConfigError) as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    except errors.S3Error as exc:
        print(f"s3gate: cannot read the audit bucket: {exc}", file=sys.stderr)
        return 3


def cmd_verify(args: argparse.Namespace) -> int:
    async def work(reader: AuditReader) -> int:
        trusted = await _trusted(args, reader)
        if not trusted:
            raise UsageError(
                "no trusted keys: give --trusted-keys DIR, --key-file PEM or --pin KID"
            )
        verifier = Verifier(
            reader,
            trusted,
            now=datetime.now(UTC),
            max_heartbeat_age=args.max_heartbeat_age,
            since=args.since,
            require_live=args.require_live,
        )
        report = await verifier.run(args.replica)
        print(report.render())
        return 0 if report.ok else 1

    return _run(args, work)


def cmd_show(args: argparse.Namespace) -> int:
    if not (
        args.request_id or args.approval or args.subject or args.bucket or args.key or args.since
    ):
        print(
            "s3gate: give --request-id, --approval, --subject, --bucket, --key or --since",
            file=sys.stderr,
        )
        return 2

    async def work(reader: AuditReader) -> int:
        trusted = await _trusted(args, reader)
        if not trusted:
            print("warning: no trusted keys given; signatures are not checked", file=sys.stderr)
        filters = Filters(
            request_id=args.request_id,
            approval_id=args.approval,
            subject=args.subject,
            bucket=args.bucket,
            key=args.key,
            since=args.since,
            until=args.until,
        )
        entries, report = await timeline(
            reader,
            trusted,
            filters,
            now=datetime.now(UTC),
            max_heartbeat_age=args.max_heartbeat_age,
            replicas=args.replica,
        )
        print(render(entries, json_lines=args.json))
        if not report.ok or any(not e.verified for e in entries):
            print("\n" + report.render(), file=sys.stderr)
            return 1
        return 0

    return _run(args, work)


def cmd_keys_generate(args: argparse.Namespace) -> int:
    key = keyfiles.generate(args.out)
    print(f"key id:      {key.kid}")
    print(f"fingerprint: {key.public.fingerprint}  (SHA-256 of the raw public key; pin this)")
    print(f"private key: {args.out / f'{key.kid}.private.pem'}  (0600; keep it secret)")
    print(f"public key:  {args.out / f'{key.kid}.pem'}  and  {args.out / f'{key.kid}.json'}")
    print("\nIn the gateway settings, put it first to make it the active signing key:")
    print(f"  audit:\n    signing_keys: [{args.out / f'{key.kid}.private.pem'}]")
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    try:
        for path in args.files:
            key = keyfiles.load_public(path)
            print(f"{path}: kid {key.kid} fingerprint {key.fingerprint}")
            print(json.dumps(key.jwk()))
    except keyfiles.KeyFileError as exc:
        print(f"s3gate: {exc}", file=sys.stderr)
        return 2
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="verify and replay the audit trail")
    sub = audit.add_subparsers(dest="audit_command", required=True)

    verify = sub.add_parser("verify", help="check signatures, chains, batches and freshness")
    _reading_flags(verify, ["--bucket", "--audit-bucket"])
    verify.add_argument("--since", type=parse_since, help="start at manifests signed since")
    verify.add_argument(
        "--require-live",
        action="store_true",
        help="a chain that ended with a clean stop is stale too",
    )
    verify.set_defaults(func=cmd_verify)

    show = sub.add_parser("show", help="print a timeline of audited events")
    _reading_flags(show, ["--audit-bucket"])
    show.add_argument("--request-id")
    show.add_argument("--approval", help="a hold id: its whole history (approval.* events)")
    show.add_argument("--subject", help="principal subject (user, service, OIDC sub)")
    show.add_argument("--bucket", help="only events on this bucket")
    show.add_argument("--key", help="only events on this key (a trailing * matches a prefix)")
    show.add_argument("--since", type=parse_since, help="e.g. 1h, 2d or 2024-05-01T00:00:00Z")
    show.add_argument("--until", type=parse_since)
    show.add_argument("--json", action="store_true", help="print events as JSON lines")
    show.set_defaults(func=cmd_show)

    keys = subparsers.add_parser("keys", help="audit signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    generate = keys_sub.add_parser("generate", help="create an Ed25519 signing key")
    generate.add_argument("--out", type=Path, required=True, help="directory for the key files")
    generate.set_defaults(func=cmd_keys_generate)
    show_keys = keys_sub.add_parser("show", help="print kid, fingerprint and JWK of key files")
    show_keys.add_argument("files", type=Path, nargs="+")
    show_keys.set_defaults(func=cmd_keys_show)
