"""Masking profiles: load `policies/masking/*.yaml`, validate every file, and
compile detectors and field rules once per bundle.

A bundle is all or nothing: the first invalid file (or a custom detector id
defined differently in two files) rejects the whole set with `ProfileError`,
whose message names each file and reason, so the gateway keeps serving the
previous bundle.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from s3gate.transform.detectors import (
    Detector,
    DetectorSpec,
    Examples,
    Prefilter,
    deny_list_pattern,
    deny_list_prefilters,
)
from s3gate.transform.fields import PathError, Step, key_glob, parse_path
from s3gate.transform.library import BUILTINS
from s3gate.transform.operators import Operator
from s3gate.transform.recordrules import RecordRule, compile_rule
from s3gate.transform.scanner import PrefilterError, check_expression
from s3gate.transform.schema import (
    DetectorModel,
    FieldModel,
    ProfileModel,
    RecordRuleModel,
    TestModel,
    load_yaml,
)
from s3gate.transform.tokenkeys import TokenKeys
from s3gate.transform.validators import VALIDATORS


class ProfileError(ValueError):
    """One or more profiles are invalid; `problems` lists (file, reason)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(
            "invalid masking profile(s):\n  " + "\n  ".join(f"{f}: {r}" for f, r in problems)
        )


@dataclass(frozen=True)
class DetectorUse:
    detector: Detector
    operator: Operator
    everywhere: bool


@dataclass(frozen=True)
class FieldRule:
    id: str  # "profile:rule"
    source: str  # the path or key pattern as written
    steps: tuple[Step, ...]
    operator: Operator | None
    detectors: tuple[str, ...] | None


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    description: str
    detectors: Mapping[str, DetectorUse]
    rules: tuple[FieldRule, ...]
    malformed_json: Literal["text", "block"]
    binary: Literal["block", "pass"]
    tests: tuple[TestModel, ...]
    keys: TokenKeys
    # Content hash (file + token key fingerprint): caches key on it.
    digest: str
    # Record rules (recordrules.py), in the order written.
    records: tuple[RecordRule, ...] = ()


class MaskingProfiles:
    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = dict(profiles)
        self.digest = hashlib.sha256(
            "".join(p.digest for _, p in sorted(self._profiles.items())).encode()
        ).hexdigest()

    def get(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise KeyError(f"no masking profile named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def __iter__(self) -> Iterator[Profile]:
        return iter(p for _, p in sorted(self._profiles.items()))

    def __len__(self) -> int:
        return len(self._profiles)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._profiles))


def load_profiles(directory: Path, keys: TokenKeys) -> MaskingProfiles:
    """Every `*.yaml` / `*.yml` in `directory`, validated; raises ProfileError."""
    if not directory.is_dir():
        raise ProfileError([(str(directory), "not a directory")])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    texts: dict[Path, str] = {}
    problems: list[tuple[str, str]] = []
    for path in files:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append((str(path), f"cannot read: {exc}"))
    if problems:
        raise ProfileError(problems)
    return profiles_from_texts(texts, keys)


def profiles_from_texts(texts: Mapping[Path, str], keys: TokenKeys) -> MaskingProfiles:
    """Profiles from file contents already read (e.g. a policy bundle's
    snapshot, so that profiles and policies come from the same files)."""
    problems: list[tuple[str, str]] = []
    profiles: dict[str, Profile] = {}
    for path, text in sorted(texts.items()):
        try:
            profile = parse_profile(text, path, keys)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        if profile.name in profiles:
            problems.append((str(path), f"profile {profile.name!r} is defined twice"))
        profiles[profile.name] = profile
    problems.extend(_conflicting_customs(profiles))
    if problems:
        raise ProfileError(problems)
    return MaskingProfiles(profiles)


def load_profile(path: Path, keys: TokenKeys) -> Profile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError([(str(path), f"cannot read: {exc}")]) from exc
    return parse_profile(text, path, keys)


def parse_profile(text: str, path: Path, keys: TokenKeys) -> Profile:
    where = str(path)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ProfileError([(where, f"not valid YAML: {exc}")]) from exc
    try:
        model = ProfileModel.model_validate(data)
    except ValidationError as exc:
        raise ProfileError([(where, _describe(err)) for err in exc.errors()]) from exc
    problems: list[str] = []
    if model.profile != path.stem:
        problems.append(f"profile: name {model.profile!r} must match the file name {path.stem!r}")
    detectors: dict[str, DetectorUse] = {}
    for det_id, det in model.detectors.items():
        try:
            detectors[det_id] = _detector(det_id, det)
        except ValueError as exc:
            problems.append(f"detectors.{det_id}: {exc}")
    rules: list[FieldRule] = []
    seen: set[str] = set()
    for i, rule in enumerate(model.fields):
        if rule.id in seen:
            problems.append(f"fields[{i}]: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        try:
            rules.append(_rule(model.profile, rule, detectors))
        except ValueError as exc:
            problems.append(f"fields[{i}] ({rule.id}): {exc}")
    records: list[RecordRule] = []
    for i, record_rule in enumerate(model.records):
        if record_rule.id in seen:
            problems.append(f"records[{i}]: duplicate rule id {record_rule.id!r}")
        seen.add(record_rule.id)
        try:
            records.append(_record_rule(model.profile, record_rule, detectors))
        except ValueError as exc:
            problems.append(f"records[{i}] ({record_rule.id}): {exc}")
    record_ids = {r.id for r in model.records}
    for test in model.tests:
        for rule_id in sorted(set(test.rejected or {}) - record_ids):
            problems.append(f"tests ({test.name}): rejected: {rule_id!r} is not a record rule")
    names = [t.name for t in model.tests]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"tests: duplicate test name {dup!r}")
    if problems:
        raise ProfileError([(where, p) for p in problems])
    digest = hashlib.sha256(text.encode() + keys.fingerprint.encode()).hexdigest()
    return Profile(
        name=model.profile,
        path=path,
        description=model.description,
        detectors=detectors,
        rules=tuple(rules),
        malformed_json=model.content.malformed_json,
        binary=model.content.binary,
        tests=model.tests,
        keys=keys,
        digest=digest,
        records=tuple(records),
    )


def _detector(det_id: str, det: DetectorModel) -> DetectorUse:
    if not re.match(r"^[a-z][a-z0-9_]{0,63}$", det_id):
        raise ValueError("ids are lower-case letters, digits and '_', starting with a letter")
    operator = Operator(det.operator, det.keep_last, det.label)
    everywhere = det.scope == "everywhere"
    if not det.custom:
        spec = BUILTINS.get(det_id)
        if spec is None:
            raise ValueError("not a built-in detector; a custom one needs pattern or terms")
        if det.validator or det.context or det.examples or det.ignore_case:
            raise ValueError("built-in detectors take only operator, keep_last, label, scope")
        return DetectorUse(_compiled(spec), operator, everywhere)
    if det_id in BUILTINS:
        raise ValueError("a custom detector cannot reuse a built-in id")
    return DetectorUse(_compiled(custom_spec(det_id, det)), operator, everywhere)


def custom_spec(det_id: str, det: DetectorModel) -> DetectorSpec:
    if det.pattern is not None and det.terms is not None:
        raise ValueError("give pattern or terms, not both")
    if det.examples is None or not det.examples.positive or not det.examples.negative:
        raise ValueError("custom detectors need positive and negative examples")
    if det.validator is not None and det.validator not in VALIDATORS:
        raise ValueError(f"unknown validator {det.validator!r}; known: {', '.join(VALIDATORS)}")
    examples = Examples(det.examples.positive, det.examples.negative)
    label = det.label or det_id.upper()
    context = det.context.keywords if det.context else ()
    window = det.context.within if det.context else 0
    validators = (("match", det.validator),) if det.validator else ()
    if det.terms is not None:
        return DetectorSpec(
            id=det_id,
            label=label,
            pattern=deny_list_pattern(det.terms),
            prefilters=deny_list_prefilters(det.terms),
            description=det.description or "deny-list",
            context=context,
            context_window=window,
            validators=validators,
            examples=examples,
            builtin=False,
            ignore_case=True,
        )
    assert det.pattern is not None
    pattern = det.pattern
    if not pattern.isascii():
        raise ValueError("patterns must be ASCII (use \\uXXXX escapes, or a terms list)")
    try:
        regex = re.compile(pattern, re.ASCII | (re.IGNORECASE if det.ignore_case else 0))
    except re.error as exc:
        raise ValueError(f"pattern does not compile: {exc}") from exc
    if regex.search("") is not None:
        raise ValueError("pattern matches the empty string")
    prefilter = Prefilter(pattern.encode(), approximate=True, caseless=det.ignore_case)
    try:
        check_expression(prefilter)
    except PrefilterError as exc:
        raise ValueError(f"pattern is not supported by the multi-pattern engine: {exc}") from exc
    return DetectorSpec(
        id=det_id,
        label=label,
        pattern=pattern,
        prefilters=(prefilter,),
        description=det.description,
        context=context,
        context_window=window,
        validators=validators,
        examples=examples,
        builtin=False,
        ignore_case=det.ignore_case,
    )


_COMPILED: dict[DetectorSpec, Detector] = {}


def _compiled(spec: DetectorSpec) -> Detector:
    """Detectors are immutable: share one compiled object per spec."""
    found = _COMPILED.get(spec)
    if found is None:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        found = _COMPILED[spec] = Detector(spec)
    return found


def _rule(profile: str, rule: FieldModel, detectors: Mapping[str, DetectorUse]) -> FieldRule:
    try:
        steps = parse_path(rule.path) if rule.path is not None else key_glob(rule.key or "")
    except PathError as exc:
        raise ValueError(str(exc)) from exc
    if rule.detectors is not None:
        for det_id in rule.detectors:
            if det_id not in detectors and det_id not in BUILTINS:
                raise ValueError(f"unknown detector {det_id!r}")
    operator = Operator(rule.operator, rule.keep_last, rule.label) if rule.operator else None
    return FieldRule(
        id=f"{profile}:{rule.id}",
        source=rule.path or f"key {rule.key}",
        steps=steps,
        operator=operator,
        detectors=rule.detectors,
    )


def _record_rule(
    profile: str, rule: RecordRuleModel, detectors: Mapping[str, DetectorUse]
) -> RecordRule:
    """Compiled once per bundle: a schema that does not compile (or refers
    outside itself) rejects the bundle here, never at the first record."""
    found: list[Detector] | None = None
    if rule.detectors is not None:
        found = []
        for det_id in rule.detectors:
            if det_id in detectors:
                found.append(detectors[det_id].detector)
            elif det_id in BUILTINS:
                found.append(_compiled(BUILTINS[det_id]))
            else:
                raise ValueError(f"unknown detector {det_id!r}")
    return compile_rule(
        profile,
        rule.id,
        rule.action,
        schema=rule.json_schema,
        required=rule.required,
        forbidden=rule.forbidden,
        detectors=found,
        detector_ids=rule.detectors or (),
    )


def _conflicting_customs(profiles: Mapping[str, Profile]) -> list[tuple[str, str]]:
    """Custom detector ids are global (counts are kept per id): one meaning each."""
    seen: dict[str, tuple[DetectorSpec, Path]] = {}
    problems = []
    for profile in profiles.values():
        for det_id, use in profile.detectors.items():
            spec = use.detector.spec
            if spec.builtin:
                continue
            first = seen.setdefault(det_id, (spec, profile.path))
            if first[0] != spec:
                problems.append(
                    (str(profile.path), f"detectors.{det_id}: defined differently in {first[1]}")
                )
    return problems


def _describe(err: object) -> str:
    assert isinstance(err, dict)
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    return f"{loc}: {err.get('msg', 'invalid')}"
