"""Record rules: checks a whole JSON record must pass (a JSON Schema,
required fields, forbidden fields, detectors that must not be found), each
with an action (`reject_record`, `block`, `hold`).

This module compiles the rules of one profile (once, when the bundle loads;
schemas in `recordschema`) and judges one record; `records` applies them to
a stream of records.

A record is judged as the writer sent it, before masking (docs/masking.md,
"Record rules"): masking changes types (a tokenized number is a string),
removes members (`drop`) and replaces what detectors find, so a rule
judged after it would see neither the writer's shape nor its findings.

Malformed input has one defined outcome each: a record that is not JSON
(including integers longer than Python's 4300-digit limit, which the engine
also takes for not-JSON, and objects with a duplicate key) fails every
schema, required and forbidden rule — it cannot be shown to pass them — and
detector rules read its text; JSON nested too deeply for the parser raises
RecursionError, which the engine turns into its "nested too deeply"
refusal of the whole object.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from s3gate.transform.detectors import Detector, DetectorSpec, Prefilter
from s3gate.transform.fields import PathError, Step, parse_path
from s3gate.transform.jsonnumbers import number_digits
from s3gate.transform.recordschema import CompiledSchema, SchemaError
from s3gate.transform.scanner import Entry, Scanner

Action = Literal["reject_record", "block", "hold"]
Check = Literal["schema", "required", "forbidden", "detectors"]


class _NotJson:
    """The parse of a record that is not JSON (its text is kept for detectors)."""

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey()
    return found


def parse_record(raw: bytes) -> Any:
    """The record's JSON value, or `_NotJson`. Uses the standard library's
    parser, as `jsoncheck.is_json` answers for it, so a record is JSON here
    when the masker takes it for JSON — except that an object with the same
    key twice is not: parsers disagree on which value wins (`json` takes
    the last, others the first), so a schema could pass a value another
    reader never sees. RecursionError propagates."""
    try:
        return json.loads(raw, object_pairs_hook=_unique)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, the digit limit, a duplicate
        return _NotJson(raw.decode("utf-8", "replace"))


@dataclass(frozen=True)
class RecordRule:
    id: str  # "profile:rule"
    action: Action
    check: Check
    schema: CompiledSchema | None = None
    paths: tuple[tuple[Step, ...], ...] = ()  # required / forbidden
    sources: tuple[str, ...] = ()  # the paths or detector ids as written
    detectors: tuple[Detector, ...] = ()
    # Per path, the raw JSON spelling of each plain key name it steps
    # through. A record with no escape that could spell them differently
    # shows each key exactly so, so a path whose names are not all in its
    # bytes selects nothing: no walk (`_may_select`).
    needles: tuple[tuple[bytes, ...], ...] = ()

    def violated_by(self, value: Any, raw: bytes | None = None) -> bool:
        """Does this record (a `parse_record` result; `raw`, its bytes, if
        known) break the rule?"""
        if isinstance(value, _NotJson):
            if self.check != "detectors":
                return True  # it cannot be shown to pass
            return any(det.find(value.text) for det in self.detectors)
        if self.check == "schema":
            assert self.schema is not None
            return not self.schema.accepts(value)
        if self.check in ("required", "forbidden"):
            selected = (
                _may_select(raw, needles) and _selects(value, steps)
                for steps, needles in zip(self.paths, self.needles, strict=True)
            )
            return not all(selected) if self.check == "required" else any(selected)
        if raw is not None and not _HIDING.search(raw) and not _prefilter(self.detectors).scan(raw):
            return False  # what the masker's own prefilter would not flag either
        return any(_found(det, value) for det in self.detectors)


def compile_rule(
    profile: str,
    rule_id: str,
    action: Action,
    *,
    schema: Any = None,
    required: Sequence[str] | None = None,
    forbidden: Sequence[str] | None = None,
    detectors: Sequence[Detector] | None = None,
    detector_ids: Sequence[str] = (),
) -> RecordRule:
    """One rule, compiled; raises ValueError naming what is wrong."""
    full = f"{profile}:{rule_id}"
    if schema is not None:
        try:
            compiled = CompiledSchema.of(schema)
        except SchemaError as exc:
            raise ValueError(f"schema: {exc}") from exc
        return RecordRule(full, action, "schema", schema=compiled)
    if detectors is not None:
        return RecordRule(
            full, action, "detectors", sources=tuple(detector_ids), detectors=tuple(detectors)
        )
    check: Check = "required" if required is not None else "forbidden"
    written = tuple(required if required is not None else forbidden or ())
    paths = []
    for path in written:
        try:
            paths.append(parse_path(path))
        except PathError as exc:
            raise ValueError(f"{check}: {exc}") from exc
    needles = tuple(
        tuple(json.dumps(s.name, ensure_ascii=False).encode() for s in steps if s.kind == "name")
        for steps in paths
    )
    return RecordRule(full, action, check, paths=tuple(paths), sources=written, needles=needles)


# Escapes that can spell printable ASCII (`\u0041`, `\/`): the same test as
# the masker's (`plan.ESCAPE_PREFILTER`, `jsonwalk._SUSPICIOUS`). Any other
# escape (`\n`, `\"`, `\u00e9`) leaves ASCII text as it is in the bytes.
_HIDING = re.compile(rb"\\u00[2-7][0-9A-Fa-f]|\\/")
_PLAIN_NAME = re.compile(rb'^"[\x20\x21\x23-\x5b\x5d-\x7e]*"$')


def _may_select(raw: bytes | None, needles: tuple[bytes, ...]) -> bool:
    if raw is None or all(n in raw for n in needles):
        return True
    return _escaped(raw, needles)


def _escaped(raw: bytes, needles: tuple[bytes, ...]) -> bool:
    """Could an escape spell a key name the bytes do not show as is? Names
    of printable ASCII only (no quote or backslash) can hide only behind
    escapes of ASCII; other names behind any escape."""
    if all(_PLAIN_NAME.match(n) for n in needles):
        return _HIDING.search(raw) is not None
    return b"\\" in raw


def _selects(value: Any, steps: tuple[Step, ...]) -> bool:
    """Whether the path selects at least one value in `value` (no recursion:
    the record may be nested as deep as the parser allows)."""
    if not steps:
        return True  # `$` is the record itself
    if all(not s.descendant and s.kind in ("name", "index") for s in steps):
        return _lookup(value, steps)
    last = len(steps)
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[tuple[int, int]] = set()
    while stack:
        node, pos = stack.pop()
        marker = (id(node), pos)
        if marker in seen:
            continue
        seen.add(marker)
        step = steps[pos]
        for component, child in _children(node):
            if step.descendant:
                stack.append((child, pos))  # the step may still match deeper
            if step.matches(component):
                if pos + 1 == last:
                    return True
                stack.append((child, pos + 1))
    return False


def _lookup(value: Any, steps: tuple[Step, ...]) -> bool:
    """A path of plain names and indexes: one lookup per step."""
    node = value
    for step in steps:
        if step.kind == "name":
            if not isinstance(node, dict) or step.name not in node:
                return False
            node = node[step.name]
        else:
            if not isinstance(node, list) or step.index >= len(node):
                return False
            node = node[step.index]
    return True


def _children(node: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        yield from enumerate(node)


_SCANNERS: dict[tuple[DetectorSpec, ...], Scanner] = {}
_SCANNERS_LOCK = threading.Lock()
_SCANNERS_SIZE = 64


def _prefilter(detectors: tuple[Detector, ...]) -> Scanner:
    """The detectors' prefilters as the masker's plan compiles them (their
    own, and those of key-held values and numbers under a key), built on
    first use per process (a hyperscan database does not pickle). The
    contract of `detectors`: a finding in a JSON string, key or number
    implies a prefilter match in the record's bytes when no escape hides
    text from them, so a record without a backslash and without a match has
    nothing a detector would find (the masker skips it the same way)."""
    specs = tuple(det.spec for det in detectors)
    with _SCANNERS_LOCK:
        found = _SCANNERS.get(specs)
    if found is not None:
        return found
    entries = []
    for det in detectors:
        for pf in det.prefilters():
            entries.append(Entry(pf, ("detector", 0)))
        for extra in (det.spec.json_key_prefilter, det.spec.number_key_prefilter):
            if extra is not None:
                entries.append(Entry(Prefilter(extra), ("key", 0)))
    scanner = Scanner(entries)
    with _SCANNERS_LOCK:
        if len(_SCANNERS) >= _SCANNERS_SIZE:
            _SCANNERS.clear()
        _SCANNERS[specs] = scanner
    return scanner


def _found(det: Detector, value: Any) -> bool:
    """Does the detector find something anywhere in the record: a key, a
    string, a number's digits, or a scalar held by a key that names it."""
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if det.find(k):
                    return True
                stack.append((k, v))
            continue
        if isinstance(node, list):
            stack.extend((key, v) for v in node)
            continue
        if isinstance(node, bool) or node is None:
            continue
        if isinstance(node, str):
            if det.find(node, key):
                return True
            text = node
        else:  # int or float
            digits = number_digits(repr(node).encode()) if isinstance(node, float) else None
            text = str(abs(node)) if isinstance(node, int) else digits or repr(node)
            if det.find(text, key):
                return True
        if key is not None:
            if det.json_key is not None and det.json_key.search(key) and det.accepts_value(text):
                return True
            if text.lstrip("+").isdigit() and det.accepts_number(key, text.lstrip("+")):
                return True
    return False
