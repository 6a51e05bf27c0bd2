"""`s3gate policy test`: run the test cases kept beside the policies.

The runner knows nothing about what a test is: a `Suite` yields results for a
bundle. `AccessSuite` runs the access-policy cases in `tests/**/*.yaml`;
other kinds of checks (say, the masking detectors' examples) plug in as
further suites in `default_suites()`.

Access test file format (see docs/policies.md):

    principals:                     # optional, named for reuse
      alice: {subject: alice, role: analyst, groups: [analysts]}
    context: {tls: true}            # optional, defaults for every case
    cases:
      - name: analyst reads a trace
        principal: alice            # a name above, or an inline mapping
        action: GetObject           # an action, CopyObject or DeleteObjects
        resource: s3://traces/alpha/run-1.jsonl
        context: {source_ip: 10.1.2.3}
        expect:
          decision: allow           # allow | allow_after_approval | deny  (required)
          policies: [analyst.read-traces]   # exact set        (optional)
          masks: [analyst-view]     # exact list, in order     (optional)
          approvals: []             # exact list, in order     (optional)

A file with a top-level `kind:` other than `access` belongs to another suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from s3gate.policy.cases import Case, CaseError, Target, decide_case, principal_from
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision

CASE_KEYS = frozenset(
    {"name", "principal", "action", "resource", "resource_type", "copy_source", "context", "expect"}
)
EXPECT_KEYS = frozenset({"decision", "policies", "masks", "approvals"})
# `allow_after_approval`: allowed, with `@approval` obligations (the write
# waits in quarantine until approved; docs/approvals.md). A plain `allow`
# does not match such a decision: a test must say that a human is involved.
DECISIONS = ("allow", "allow_after_approval", "deny")


@dataclass(frozen=True)
class CaseResult:
    suite: str
    name: str
    location: str  # "tests/analyst.yaml:12"
    passed: bool
    message: str = ""


class Suite(Protocol):
    name: str

    def run(self, directory: Path, bundle: Bundle) -> Iterable[CaseResult]: ...


@dataclass
class Report:
    results: list[CaseResult]

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failed

    def render(self, bundle_hash: str, verbose: bool = False) -> str:
        lines = []
        for r in self.results:
            if verbose or not r.passed:
                lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.location}  {r.name}")
            if not r.passed:
                lines.extend("    " + m for m in r.message.splitlines())
        passed, failed = len(self.results) - len(self.failed), len(self.failed)
        if not self.results:
            lines.append("no policy tests found")
        summary = f"{passed} passed, {failed} failed (bundle {bundle_hash[:12]})"
        lines.append(f"== {summary} ==")
        return "\n".join(lines)


def default_suites() -> list[Suite]:
    return [AccessSuite()]


def run_suites(directory: Path, bundle: Bundle, suites: Iterable[Suite]) -> Report:
    results: list[CaseResult] = []
    for suite in suites:
        results.extend(suite.run(directory, bundle))
    return Report(results)


class AccessSuite:
    name = "access"

    def run(self, directory: Path, bundle: Bundle) -> Iterable[CaseResult]:
        for path in sorted((directory / "tests").glob("**/*.y*ml")):
            rel = path.relative_to(directory).as_posix()
            yield from self._run_file(rel, path.read_text(), bundle)

    def _run_file(self, rel: str, text: str, bundle: Bundle) -> Iterable[CaseResult]:
        try:
            data = yaml.safe_load(text)
            lines = _case_lines(text)
        except yaml.YAMLError as exc:
            yield CaseResult(self.name, "(file)", rel, False, f"not valid YAML: {exc}")
            return
        if not isinstance(data, Mapping) or data.get("kind", "access") != "access":
            return
        principals = data.get("principals") or {}
        defaults = data.get("context") or {}
        cases = data.get("cases") or []
        for i, raw in enumerate(cases):
            where = f"{rel}:{lines[i]}" if i < len(lines) else rel
            name = str(raw.get("name", f"case {i + 1}")) if isinstance(raw, Mapping) else "?"
            try:
                case, expect = _parse_case(raw, principals, defaults)
                decision = decide_case(bundle, case)
            except CaseError as exc:
                yield CaseResult(self.name, name, where, False, f"invalid case: {exc}")
                continue
            problems = _compare(expect, decision)
            yield CaseResult(self.name, name, where, not problems, "\n".join(problems))


def _case_lines(text: str) -> list[int]:
    """1-based line of each item of the top-level `cases` list."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _parse_case(
    raw: Any, principals: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[Case, Mapping[str, Any]]:
    if not isinstance(raw, Mapping):
        raise CaseError("a case is a mapping")
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise CaseError(f"unknown keys: {', '.join(sorted(unknown))}")
    who = raw.get("principal")
    if isinstance(who, str):
        if who not in principals:
            raise CaseError(f"no principal named {who!r}")
        who = principals[who]
    if not isinstance(who, Mapping):
        raise CaseError("principal is a name or a mapping")
    expect = raw.get("expect")
    if not isinstance(expect, Mapping) or expect.get("decision") not in DECISIONS:
        raise CaseError("expect.decision is allow, allow_after_approval or deny")
    if set(expect) - EXPECT_KEYS:
        raise CaseError(f"unknown expect keys: {', '.join(sorted(set(expect) - EXPECT_KEYS))}")
    copy_source = raw.get("copy_source")
    case = Case(
        principal=principal_from(who),
        action=str(raw.get("action", "")),
        target=Target.parse(str(raw.get("resource", ""))),
        context={**defaults, **(raw.get("context") or {})},
        resource_type=raw.get("resource_type"),
        copy_source=Target.parse(copy_source) if copy_source is not None else None,
    )
    return case, expect


def _compare(expect: Mapping[str, Any], decision: Decision) -> list[str]:
    problems = []
    got = verdict(decision)
    if expect["decision"] != got:
        problems.append(f"expected {expect['decision']}, got {got}: {decision.reason}")
    if "policies" in expect and set(expect["policies"] or []) != set(decision.policies):
        problems.append(
            f"expected policies {sorted(expect['policies'] or [])}, got {list(decision.policies)}"
        )
    for name in ("masks", "approvals"):
        if name in expect:
            want = list(expect[name] or [])
            have = list(getattr(decision.obligations, name))
            if want != have:
                problems.append(f"expected {name} {want}, got {have}")
    return problems


def verdict(decision: Decision) -> str:
    if not decision.allowed:
        return "deny"
    return "allow_after_approval" if decision.obligations.approvals else "allow"
