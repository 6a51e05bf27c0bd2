"""`s3gate policy check | test | explain`.

Wire into the main parser with `register(subparsers)`. Exit codes: 0 fine,
1 the bundle is invalid / a test failed / the request is denied (explain),
2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from s3gate import config
from s3gate.approvals.rules import rules_of
from s3gate.policy.cases import Case, CaseError, Target, decide_case, principal_from
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.loader import BundlePart, load_bundle
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError
from s3gate.policy.testing import Suite, default_suites, run_suites, verdict

# What other layers add to the policy bundle and its tests (masking profiles
# and their examples); set by `register`, so this package depends on neither.
_PARTS: Callable[[], Sequence[BundlePart]] = tuple
_SUITES: tuple[Suite, ...] = ()


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    parts: Callable[[], Sequence[BundlePart]] = tuple,
    suites: Sequence[Suite] = (),
) -> None:
    global _PARTS, _SUITES
    _PARTS, _SUITES = parts, tuple(suites)
    policy = subparsers.add_parser("policy", help="check, test and explain access policies")
    sub = policy.add_subparsers(dest="policy_command", required=True)

    check = sub.add_parser("check", help="parse and validate the policies against the schema")
    _common(check)
    check.set_defaults(func=cmd_check)

    test = sub.add_parser("test", help="run the policy tests kept beside the policies")
    _common(test)
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.set_defaults(func=cmd_test)

    explain = sub.add_parser("explain", help="decide one hypothetical request and say why")
    _common(explain, positional_dir=False)
    explain.add_argument("target", help="s3://bucket/key (s3://bucket for bucket actions)")
    explain.add_argument("--sub", required=True, help="subject of the principal")
    explain.add_argument("--groups", action="append", default=[], help="comma-separated")
    explain.add_argument("--role", default=None)
    explain.add_argument("--issuer", default=None, help="issuer name (default: dev)")
    explain.add_argument("--claim", action="append", default=[], help="NAME=VALUE, repeatable")
    explain.add_argument("--static", action="store_true", help="a static-key service")
    explain.add_argument("--action", required=True, help="GetObject, …, CopyObject, DeleteObjects")
    explain.add_argument("--resource-type", choices=["Object", "Prefix", "Bucket"], default=None)
    explain.add_argument("--copy-source", default=None, help="s3://bucket/key (CopyObject)")
    explain.add_argument("--source-ip", default=None)
    explain.add_argument("--tls", action="store_true")
    explain.add_argument("--json", action="store_true", help="print JSON")
    explain.set_defaults(func=cmd_explain)


def _common(parser: argparse.ArgumentParser, positional_dir: bool = True) -> None:
    if positional_dir:
        parser.add_argument("dir", nargs="?", type=Path, default=None, help="policy directory")
    else:
        parser.add_argument("--dir", type=Path, default=None, help="policy directory")
    parser.add_argument("--config", type=Path, default=None, help="s3gate YAML settings")


def _settings(args: argparse.Namespace) -> PolicySettings:
    if args.config is None:
        return PolicySettings()

    loaded = getattr(config.load(args.config), "policy", None)
    return loaded if isinstance(loaded, PolicySettings) else PolicySettings()


def _load(args: argparse.Namespace) -> tuple[Path, Bundle] | None:
    settings = _settings(args)
    directory = args.dir if args.dir is not None else settings.dir
    try:
        return directory, load_bundle(settings, directory, parts=_PARTS())
    except BundleError as exc:
        print(f"policy bundle in {directory} is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 1
    directory, bundle = loaded
    print(f"ok: {len(bundle.policies)} policies in {directory}, bundle {bundle.hash}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 1
    directory, bundle = loaded
    report = run_suites(directory, bundle, [*default_suites(), *_SUITES])
    print(report.render(bundle.hash, verbose=args.verbose))
    return 0 if report.ok else 1


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 1
    _, bundle = loaded
    groups = [g.strip() for item in args.groups for g in item.split(",") if g.strip()]
    claims = dict(c.split("=", 1) for c in args.claim if "=" in c)
    context: dict[str, object] = {"tls": args.tls}
    if args.source_ip:
        context["source_ip"] = args.source_ip
    spec: dict[str, object] = {
        "subject": args.sub,
        "source": "static" if args.static else "session",
        "groups": groups,
        "claims": claims,
    }
    for name in ("role", "issuer"):
        if getattr(args, name) is not None:
            spec[name] = getattr(args, name)
    try:
        case = Case(
            principal=principal_from(spec),
            action=args.action,
            target=Target.parse(args.target),
            context=context,
            resource_type=args.resource_type,
            copy_source=Target.parse(args.copy_source) if args.copy_source else None,
        )
        decision = decide_case(bundle, case)
    except CaseError as exc:
        print(f"s3gate policy explain: {exc}", file=sys.stderr)
        return 2
    where = {p: bundle.policies[p].location for p in decision.policies if p in bundle.policies}
    if args.json:
        described = {**decision.describe(), "locations": where, "verdict": verdict(decision)}
        print(json.dumps(described, indent=2))
    else:
        named = [f"{p} ({where[p]})" if p in where else p for p in decision.policies]
        rows = [
            ("decision", _verdict_text(decision, bundle)),
            ("request", f"{decision.action} on {decision.resource}"),
            ("policies", ", ".join(named) or "-"),
            ("masks", ", ".join(decision.obligations.masks) or "-"),
            ("approvals", ", ".join(decision.obligations.approvals) or "-"),
            ("reason", decision.reason),
            ("bundle", decision.bundle_hash),
        ]
        print("\n".join(f"{k + ':':<11}{v}" for k, v in rows))
    refused = decision.obligations.approvals and decision.action != "PutObject"
    return 0 if decision.allowed and not refused else 1


def _verdict_text(decision: Decision, bundle: Bundle) -> str:
    """ALLOW, DENY, or "ALLOW after approval by …" naming each approval rule
    (policies/approvals.yaml) and what it needs."""
    if not decision.allowed:
        return "DENY"
    if not decision.obligations.approvals:
        return "ALLOW"

    rules = rules_of(bundle.extras)
    named = []
    for name in decision.obligations.approvals:
        rule = rules.get(name)
        named.append(f"{name} ({rule.describe()})" if rule else f"{name} (NO SUCH RULE: refused)")
    text = "ALLOW after approval by " + "; ".join(named)
    if decision.action != "PutObject":
        text += " — only PutObject can wait for approval; this gateway refuses it"
    return text
