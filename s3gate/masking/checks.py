"""Masking in the policy tooling: profile examples as `s3gate policy test`
cases, and a check that every `@mask` names a profile of the bundle."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from s3gate.masking.profiles import PART
from s3gate.policy.cedar import Bundle
from s3gate.policy.obligations import MASK
from s3gate.policy.source import PolicyInfo, Problem
from s3gate.policy.testing import CaseResult
from s3gate.transform.examples import Failure, check_examples
from s3gate.transform.profile import MaskingProfiles


def unknown_masks(policies: Iterable[PolicyInfo], profiles: MaskingProfiles) -> list[Problem]:
    """`@mask("x")` annotations naming no profile, from the policies as the
    bundle parsed them (Cedar's own parser: `@mask ("x")`, with a space, is
    the same annotation and is checked the same way)."""
    problems = []
    for info in policies:
        name = info.annotations.get(MASK)
        if name is not None and name not in profiles:
            problems.append(Problem(info.file, info.line, f"@mask names no profile: {name!r}"))
    return problems


class MaskingExamplesSuite:
    """Every detector's positive and negative examples and every profile test."""

    name = "masking"

    def run(self, directory: Path, bundle: Bundle) -> Iterable[CaseResult]:
        profiles = bundle.extras.get(PART)
        if not isinstance(profiles, MaskingProfiles):
            return
        failures: dict[str, list[Failure]] = {}
        for failure in check_examples(profiles):
            failures.setdefault(failure.profile, []).append(failure)
        for profile in profiles:
            where = f"masking/{profile.path.name}"
            found = failures.get(profile.name, [])
            if not found:
                yield CaseResult(
                    self.name, f"{profile.name}: detector examples and tests", where, True
                )
            for failure in found:
                yield CaseResult(
                    self.name, f"{profile.name}: {failure.subject}", where, False, str(failure)
                )
