"""Checks a profile author runs before merging (`s3gate policy test`).

- every detector a profile uses (built-in or custom) finds each of its
  positive examples and none of its negative ones;
- every `tests:` case of a profile gives the expected outcome through the
  real engine (exact output, substrings absent/present, blocked or held,
  records each record rule rejected).

Results are data (`Failure`), so any command can print or count them.
Examples are written by the author to be shown; real content never is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from s3gate import errors
from s3gate.transform.engine import Masker
from s3gate.transform.errors import MaskingBlocked, MaskingHeld
from s3gate.transform.profile import MaskingProfiles, Profile
from s3gate.transform.schema import TestModel
from s3gate.transform.settings import Limits


@dataclass(frozen=True)
class Failure:
    profile: str
    file: str
    subject: str  # "detector <id>" or "test <name>"
    kind: str  # positive | negative | expect | absent | present | outcome | rejected
    example: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.subject}: {self.message} ({self.kind}: {self.example!r})"


def check_examples(profiles: MaskingProfiles | Iterable[Profile]) -> list[Failure]:
    failures: list[Failure] = []
    for profile in profiles:
        failures.extend(_detector_examples(profile))
        for test in profile.tests:
            failures.extend(_run_test(profile, test))
    return failures


def _detector_examples(profile: Profile) -> list[Failure]:
    out = []
    for det_id, use in sorted(profile.detectors.items()):
        det = use.detector
        subject = f"detector {det_id}"
        for example in det.spec.examples.positive:
            if not det.find(example):
                out.append(_fail(profile, subject, "positive", example, "not detected"))
        for example in det.spec.examples.negative:
            if det.find(example):
                out.append(_fail(profile, subject, "negative", example, "detected"))
    return out


def _run_test(profile: Profile, test: TestModel) -> list[Failure]:
    subject = f"test {test.name}"
    masker = Masker(
        [profile],
        content_type=test.content_type,
        content_encoding=None,
        key="example",
        limits=Limits(),
    )
    try:
        output = masker.mask_bytes(test.input.encode()).decode("utf-8", "replace")
        outcome = "masked"
    except MaskingHeld:
        output, outcome = "", "held"
    except MaskingBlocked:
        output, outcome = "", "blocked"
    except errors.S3Error as exc:
        return [_fail(profile, subject, "outcome", test.input, f"failed: {exc.error_code}")]
    if outcome != test.outcome:
        return [
            _fail(profile, subject, "outcome", test.input, f"{outcome}, expected {test.outcome}")
        ]
    if outcome != "masked":
        return []
    out = []
    if test.expect is not None and output != test.expect:
        out.append(_fail(profile, subject, "expect", test.input, f"output was {output!r}"))
    for text in test.absent:
        if text in output:
            out.append(_fail(profile, subject, "absent", text, "still in the output"))
    for text in test.present:
        if text not in output:
            out.append(_fail(profile, subject, "present", text, "missing from the output"))
    if test.rejected is not None:
        prefix = f"{profile.name}:"
        got = {k.removeprefix(prefix): v for k, v in masker.summary.rejected.items() if v}
        want = {k: v for k, v in test.rejected.items() if v}
        if got != want:
            out.append(_fail(profile, subject, "rejected", test.input, f"rejected {got}"))
    return out


def _fail(profile: Profile, subject: str, kind: str, example: str, message: str) -> Failure:
    return Failure(profile.name, str(profile.path), subject, kind, example, message)
