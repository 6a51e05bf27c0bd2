"""Masking in the policy tooling: profile examples as `s3gate policy test`
cases, and a check that every `@mask` names a profile of the bundle."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from s3gate.masking.profiles import PART
from s3gate.policy.cedar import Bundle
from s3gate.policy.source import Problem
from s3gate.policy.testing import CaseResult
from s3gate.transform.examples import Failure, check_examples
from s3gate.transform.profile import MaskingProfiles

_MASK = re.compile(r'@mask\(\s*"([^"]*)"\s*\)')
_COMMENT = re.compile(r"//[^\n]*")


def unknown_masks(files: Mapping[str, bytes], profiles: MaskingProfiles) -> list[Problem]:
    """`@mask("x")` annotations in the access policies naming no profile."""
    problems = []
    for rel, data in sorted(files.items()):
        if not rel.endswith(".cedar"):
            continue
        text = data.decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name in _MASK.findall(_COMMENT.sub("", line)):
                if name not in profiles:
                    problems.append(Problem(rel, number, f"@mask names no profile: {name!r}"))
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
