"""`s3gate approvals list | show ID | approve ID --reason … | deny ID --reason …
| request --role R --bucket B --prefix P --reason … --duration 1h | revoke ID --reason …`.

`request` (break-glass) asks, with the requester's own role session, for raw
reads of a prefix that an `@approval` policy guards; once approved they work
for the duration, and `revoke` ends them early.

`approve` shows the hold first and sends back the SHA-256 and bundle hash it
was shown: the gateway refuses (HoldChanged) if either differs by then, so an
approval always names the exact bytes and rules it was given for.
Exit status: 0 done, 1 refused by the gateway, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from s3gate.approvals.client import ApiError, ApprovalsClient
from s3gate.approvals.rules import parse_duration
from s3gate.audit.verify.show import printable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = subparsers.add_parser("approvals", help="list, show, approve and deny held writes")
    cmd.add_argument(
        "--endpoint-url",
        default=os.environ.get("S3GATE_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL"),
        help="the gateway (default: $S3GATE_ENDPOINT_URL or $AWS_ENDPOINT_URL)",
    )
    cmd.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    cmd.add_argument("--ca-bundle", default=os.environ.get("AWS_CA_BUNDLE"))
    sub = cmd.add_subparsers(dest="approvals_command", required=True)
    sub.add_parser("list", help="pending holds you may decide").set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="one hold: who, key, why, preview, size, SHA-256")
    show.add_argument("id")
    show.set_defaults(func=cmd_show)
    request = sub.add_parser("request", help="ask for a break-glass read grant")
    request.add_argument("--role", required=True, help="the role your session has assumed")
    request.add_argument("--bucket", required=True)
    request.add_argument("--prefix", required=True, help="keys starting with this")
    request.add_argument("--reason", required=True)
    request.add_argument("--duration", default="1h", help="e.g. 30m, 1h (at most the window)")
    request.set_defaults(func=cmd_request)
    for name, func in (("approve", cmd_approve), ("deny", cmd_deny), ("revoke", cmd_revoke)):
        p = sub.add_parser(name, help=f"{name} a hold")
        p.add_argument("id")
        p.add_argument("--reason", required=True)
        p.set_defaults(func=func)


def _client(args: argparse.Namespace) -> ApprovalsClient:
    if not args.endpoint_url:
        raise SystemExit("s3gate approvals: give --endpoint-url (or set AWS_ENDPOINT_URL)")
    return ApprovalsClient(args.endpoint_url, args.region, args.ca_bundle)


def _run(args: argparse.Namespace, action: Any) -> int:
    try:
        action(_client(args))
    except ApiError as exc:
        print(f"s3gate approvals: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _safe(value: Any, keep: str = "") -> Any:
    """A hold as the gateway sent it, with every string escaped for the
    terminal: keys, subjects and reasons are client text, and a newline or an
    ESC sequence in one must not forge or rewrite a line the approver reads.
    The preview keeps its newlines and tabs (it is a document)."""
    if isinstance(value, str):
        return printable(value, keep)
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _safe(v, "\n\t" if k == "preview" else "") for k, v in value.items()}
    return value


def cmd_list(args: argparse.Namespace) -> int:
    def act(client: ApprovalsClient) -> None:
        holds = [_safe(h) for h in client.list()]
        if not holds:
            print("no pending holds")
        for h in holds:
            need = ", ".join(f"{r['name']} ({r['required']})" for r in h["rules"])
            print(
                f"{h['id']}  s3://{h['bucket']}/{h['key']}  by {h['requester']['subject']}  "
                f"{h['size']} B  needs {need}  approvals {h['valid_approvals']}  "
                f"expires {h['expires']}"
            )

    return _run(args, act)


def render(h: dict[str, Any]) -> str:
    h = _safe(h)
    lines = [
        f"hold       {h['id']}  ({h['status']})",
        f"requester  {h['requester']['subject']}"
        + (f" (issuer {h['requester']['issuer']})" if h["requester"].get("issuer") else ""),
        f"target     s3://{h['bucket']}/{h['key']}",
        f"held for   {', '.join(h['reasons']) or '-'}",
        "rules      "
        + "; ".join(
            f"{r['name']}: {r['required']} of group(s) {', '.join(r['approvers'])}"
            for r in h["rules"]
        ),
        "detectors  "
        + (", ".join(f"{k}={v}" for k, v in sorted(h.get("detector_counts", {}).items())) or "-"),
        "rejected   "
        + (", ".join(f"{k}={v}" for k, v in sorted(h.get("rejected_counts", {}).items())) or "-"),
        f"size       {h['size']} bytes",
        f"sha256     {h['sha256']}",
        f"bundle     {h.get('bundle_hash', '')}",
        f"created    {h['created']}   expires {h['expires']}",
        f"approvals  {h['valid_approvals']} valid"
        + "".join(
            f"\n           {a['subject']} at {a['at']}: {a['reason']}" for a in h["approvals"]
        ),
        f"preview    {h.get('preview_note', '')}",
    ]
    if h.get("kind") == "read":
        lines[2:3] = [
            f"grant      raw reads of s3://{h['bucket']}/{h['prefix']}* for "
            f"{h['duration_seconds']} s (role {h.get('role')})",
            f"why        {h.get('requester_reason') or '-'}",
        ]
        if h.get("grant_until"):
            lines.append(f"granted    until {h['grant_until']}")
    if h.get("preview") is not None:
        lines += ["-" * 60, str(h["preview"]).rstrip("\n"), "-" * 60]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    return _run(args, lambda client: print(render(client.show(args.id))))


def cmd_approve(args: argparse.Namespace) -> int:
    def act(client: ApprovalsClient) -> None:
        seen = client.show(args.id)  # its sha256 goes back as sent
        if seen["status"] != "pending":
            raise ApiError(409, "HoldChanged", f"the hold is {seen['status']}, not pending")
        after = client.approve(args.id, args.reason, seen["sha256"], seen["bundle_hash"])
        if after["status"] == "pending":
            need = max(r["required"] for r in after["rules"]) if after["rules"] else 0
            print(
                f"approved {args.id}: {after['valid_approvals']} of {need} approval(s); "
                "still pending"
            )
        elif after["status"] in ("released", "granted", "releasing"):
            print(f"approved {args.id}: {after['status']}")
        else:
            # The vote counted, but the gateway refused the release (the
            # policy or the bytes of the moment): a refusal, exit status 1.
            raise ApiError(
                409,
                "ReleaseRefused",
                f"approved, but the hold ended {after['status']}: {after.get('outcome')}",
            )

    return _run(args, act)


def cmd_deny(args: argparse.Namespace) -> int:
    def act(client: ApprovalsClient) -> None:
        after = client.deny(args.id, args.reason)
        print(f"denied {args.id}: {after['status']}; quarantined bytes destroyed")

    return _run(args, act)


def cmd_revoke(args: argparse.Namespace) -> int:
    def act(client: ApprovalsClient) -> None:
        after = client.revoke(args.id, args.reason)
        print(f"revoked {args.id}: {after['status']}")

    return _run(args, act)


def cmd_request(args: argparse.Namespace) -> int:
    try:
        seconds = parse_duration(args.duration, "--duration")
    except ValueError as exc:
        print(f"s3gate approvals: {exc}", file=sys.stderr)
        return 2

    def act(client: ApprovalsClient) -> None:
        view = client.request(args.role, args.bucket, args.prefix, args.reason, seconds)
        need = "; ".join(f"{r['name']} ({r['required']})" for r in view["rules"])
        print(
            f"requested {view['id']}: read s3://{view['bucket']}/{args.prefix}* for "
            f"{seconds} s, waiting for {need}"
        )

    return _run(args, act)
