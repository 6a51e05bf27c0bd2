"""Approval rules as code: `policies/approvals.yaml`, part of the policy bundle.

    holds: security              # the rule a masking `hold` detector waits for
    rules:
      security:                  # the name `@approval("security")` refers to
        approvers: [security]    # groups whose members may decide
        required: 1              # N approvals needed (N of the group's M members)
        self_approval: false     # the writer may not approve its own write
        reason_required: true    # approvers must give a reason to approve
        request_reason_required: true   # break-glass requesters must give one
        pending_ttl: 24h         # undecided → expired (denied, bytes destroyed)
        grant_window: 1h         # how long an approved read grant lasts

The file is hashed into the bundle and reloads with it, atomically (a bad
file rejects the whole new bundle). A policy naming a rule this file lacks,
or a `hold` with no `holds:` rule, is refused at the gateway (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from s3gate.policy.source import BundleError, Problem

PART = "approvals"
FILE = "approvals.yaml"
MAX_FILE_BYTES = 256 * 1024
DEFAULT_TTL = 24 * 3600
DEFAULT_WINDOW = 3600
_DURATION = re.compile(r"^(\d{1,7})([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE_KEYS = frozenset(
    {
        "approvers",
        "required",
        "self_approval",
        "reason_required",
        "request_reason_required",
        "pending_ttl",
        "grant_window",
        "description",
    }
)


@dataclass(frozen=True)
class ApprovalRule:
    name: str
    approvers: tuple[str, ...]
    required: int = 1
    self_approval: bool = False
    reason_required: bool = True
    request_reason_required: bool = True
    pending_ttl_seconds: int = DEFAULT_TTL
    grant_window_seconds: int = DEFAULT_WINDOW
    description: str = ""

    def may_approve(self, groups: tuple[str, ...]) -> bool:
        return any(g in self.approvers for g in groups)

    def describe(self) -> str:
        need = f"{self.required} approval" + ("s" if self.required != 1 else "")
        return f"{need} by group(s) {', '.join(self.approvers)}"


@dataclass(frozen=True)
class ApprovalRules:
    rules: Mapping[str, ApprovalRule]
    holds: str | None = None  # the rule for masking `hold` detectors

    def get(self, name: str) -> ApprovalRule | None:
        return self.rules.get(name)

    @classmethod
    def empty(cls) -> ApprovalRules:
        return cls({}, None)


def parse_duration(value: object, where: str) -> int:
    """`90`, `90s`, `30m`, `24h`, `7d` → seconds (positive)."""
    text = str(value).strip()
    match = _DURATION.match(text)
    if isinstance(value, bool) or match is None or int(match.group(1)) <= 0:
        raise ValueError(f"{where}: {value!r} is not a duration such as 90s, 30m, 24h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_rules(text: str) -> ApprovalRules:
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError("the file must be a mapping with `rules` (and `holds`)")
    unknown = set(data) - {"rules", "holds"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    raw = data.get("rules") or {}
    if not isinstance(raw, dict):
        raise ValueError("`rules` must map rule names to rules")
    rules = {str(name): _rule(str(name), body) for name, body in raw.items()}
    holds = data.get("holds")
    if holds is not None and str(holds) not in rules:
        raise ValueError(f"`holds` names rule {holds!r}, which is not defined")
    return ApprovalRules(rules, None if holds is None else str(holds))


def _rule(name: str, body: Any) -> ApprovalRule:
    if not isinstance(body, dict):
        raise ValueError(f"rule {name!r} must be a mapping")
    unknown = set(body) - _RULE_KEYS
    if unknown:
        raise ValueError(f"rule {name!r}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    approvers = body.get("approvers")
    if not isinstance(approvers, list) or not approvers:
        raise ValueError(f"rule {name!r}: `approvers` must be a non-empty list of groups")
    required = body.get("required", 1)
    if not isinstance(required, int) or isinstance(required, bool) or not 1 <= required <= 10:
        raise ValueError(f"rule {name!r}: `required` must be an integer from 1 to 10")
    flags = {}
    for flag, default in (
        ("self_approval", False),
        ("reason_required", True),
        ("request_reason_required", True),
    ):
        value = body.get(flag, default)
        if not isinstance(value, bool):
            raise ValueError(f"rule {name!r}: `{flag}` must be true or false")
        flags[flag] = value
    return ApprovalRule(
        name=name,
        approvers=tuple(str(g) for g in approvers),
        required=required,
        pending_ttl_seconds=parse_duration(
            body.get("pending_ttl", DEFAULT_TTL), f"rule {name!r}: pending_ttl"
        ),
        grant_window_seconds=parse_duration(
            body.get("grant_window", DEFAULT_WINDOW), f"rule {name!r}: grant_window"
        ),
        description=str(body.get("description", "")),
        **flags,
    )


class ApprovalsPart:
    """The bundle part: no file means no rules (every approval is refused)."""

    name = PART

    def load(self, files: Mapping[str, bytes]) -> ApprovalRules:
        data = files.get(FILE)
        if data is None:
            return ApprovalRules.empty()
        if len(data) > MAX_FILE_BYTES:
            raise BundleError([Problem(FILE, None, "approvals file too large")])
        try:
            return parse_rules(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise BundleError([Problem(FILE, None, str(exc))]) from exc


def rules_of(extras: Mapping[str, object]) -> ApprovalRules:
    found = extras.get(PART)
    return found if isinstance(found, ApprovalRules) else ApprovalRules.empty()
