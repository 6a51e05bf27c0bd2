"""A plan: the profiles that apply to one request, composed into one set of
detectors and field rules with one prefilter database.

Composition is a union ("all apply"): a detector enabled by several
profiles keeps the strongest operator any of them gives it, every field rule
of every profile applies, malformed JSON is refused if any profile says so
and binary content passes only if every profile allows it. Plans are cached
by the profiles' content digests, so a hot-reloaded bundle reuses the
compiled database when a profile did not change.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from s3gate.transform.detectors import Detector, Prefilter
from s3gate.transform.fields import Selectors, Step, last_named_step
from s3gate.transform.library import BUILTINS
from s3gate.transform.operators import Operator
from s3gate.transform.profile import Profile, _compiled
from s3gate.transform.scanner import Entry, Scanner
from s3gate.transform.tokenkeys import TokenKeys

# JSON escapes that could hide ASCII text from the raw-byte prefilter
# (`\u0040` for "@", `\/` for "/"): a record holding one is looked at in full.
ESCAPE_PREFILTER = Prefilter(rb"\\u00[2-7][0-9A-Fa-f]|\\/")
DETECTOR, DIRTY, KEY = "detector", "dirty", "key"
# `Plan.entry_detector` for entries that are not a detector's own prefilter.
ENTRY_DIRTY, ENTRY_KEY = -1, -2


@dataclass(frozen=True)
class BoundDetector:
    index: int
    detector: Detector
    operator: Operator
    origin: str  # the profile whose operator won
    everywhere: bool

    @property
    def refusal_id(self) -> str:
        return f"{self.origin}:{self.detector.id}"


@dataclass(frozen=True)
class BoundRule:
    index: int
    id: str
    operator: Operator | None  # whole value, or override for scoped detectors
    detectors: tuple[int, ...]  # scoped detectors (plan indexes); () = whole value


class Plan:
    def __init__(self, profiles: Sequence[Profile]) -> None:
        if not profiles:
            raise ValueError("a plan needs at least one profile")
        self.profile_names = tuple(p.name for p in profiles)
        self.keys: TokenKeys = profiles[0].keys
        self.malformed_json = (
            "block" if any(p.malformed_json == "block" for p in profiles) else "text"
        )
        self.binary = "pass" if all(p.binary == "pass" for p in profiles) else "block"
        self.detectors = self._compose_detectors(profiles)
        by_id = {d.detector.id: d.index for d in self.detectors}
        self.rules: list[BoundRule] = []
        selectors: list[tuple[Step, ...]] = []
        for profile in profiles:
            for rule in profile.rules:
                scoped = tuple(by_id[d] for d in rule.detectors or ())
                self.rules.append(BoundRule(len(self.rules), rule.id, rule.operator, scoped))
                selectors.append(rule.steps)
        self.selectors = Selectors(selectors)
        # Every record rule of every profile (records.py applies them).
        self.record_rules = tuple(r for p in profiles for r in p.records)
        self.everywhere = frozenset(d.index for d in self.detectors if d.everywhere)
        # Detectors in force outside any field rule (index → operator override).
        self.root_scope: dict[int, Operator | None] = dict.fromkeys(sorted(self.everywhere))
        self.json_key_detectors = tuple(
            d.index for d in self.detectors if d.detector.json_key is not None
        )
        self.number_key_detectors = tuple(
            d.index for d in self.detectors if d.detector.number_key is not None
        )
        self.multiline = frozenset(d.index for d in self.detectors if d.detector.multiline)
        # Records flagged only by detector prefilters may skip the JSON walk
        # unless field rules could change the outcome without a key hit.
        self.string_only = not any(
            r.detectors or (r.operator is not None and r.operator.kind == "keep")
            for r in self.rules
        )
        entries, self.always_dirty = self._entries(profiles)
        self.scanner = Scanner(entries)
        # Entry index → detector index; ENTRY_DIRTY for "walk this record",
        # ENTRY_KEY for "a key that names a secret" (see `keyed_fast_path`).
        self.entry_detector = [
            idx if kind == DETECTOR else ENTRY_KEY if kind == KEY else ENTRY_DIRTY
            for kind, idx in self.scanner.tags
        ]
        # Records flagged by key-held-secret prefilters (`"authorization":`)
        # may take the keyed fast path instead of the walk when no such
        # detector drops (a drop removes the member: the walk's job).
        # A rule named in non-ASCII could match a key its (ASCII-caseless)
        # prefilter does not flag: such plans always walk.
        self.keyed_fast_path = (
            self.string_only
            and all(
                self.detectors[i].operator.kind != "drop"
                for i in (*self.json_key_detectors, *self.number_key_detectors)
            )
            and all(step.name.isascii() for steps in selectors for step in steps)
        )

    def _compose_detectors(self, profiles: Sequence[Profile]) -> list[BoundDetector]:
        chosen: dict[str, tuple[Detector, Operator, str, bool]] = {}
        for profile in profiles:
            for det_id, use in profile.detectors.items():
                prev = chosen.get(det_id)
                if prev is None:
                    chosen[det_id] = (use.detector, use.operator, profile.name, use.everywhere)
                    continue
                det, op, origin, everywhere = prev
                if use.operator.strength > op.strength:
                    op, origin = use.operator, profile.name
                chosen[det_id] = (det, op, origin, everywhere or use.everywhere)
            # Built-ins named only by a field rule: scoped, default operator.
            for rule in profile.rules:
                for det_id in rule.detectors or ():
                    if det_id not in chosen:
                        det = _compiled(BUILTINS[det_id])
                        chosen[det_id] = (det, Operator("redact"), profile.name, False)
        return [
            BoundDetector(i, det, op, origin, everywhere)
            for i, (det_id, (det, op, origin, everywhere)) in enumerate(sorted(chosen.items()))
        ]

    def _entries(self, profiles: Sequence[Profile]) -> tuple[list[Entry], bool]:
        entries = [Entry(ESCAPE_PREFILTER, (DIRTY, -1))]
        number_keys: set[bytes] = set()
        for bound in self.detectors:
            for pf in bound.detector.prefilters():
                entries.append(Entry(pf, (DETECTOR, bound.index)))
            key_pf = bound.detector.spec.json_key_prefilter
            if key_pf is not None:
                entries.append(Entry(Prefilter(key_pf), (KEY, -1)))
            number_pf = bound.detector.spec.number_key_prefilter
            if number_pf is not None and number_pf not in number_keys:
                # Shared by detectors (phone, us_ssn): one copy costs one pass.
                number_keys.add(number_pf)
                entries.append(Entry(Prefilter(number_pf), (DIRTY, -1)))
        always = False
        for profile in profiles:
            for rule in profile.rules:
                if rule.detectors is not None or (rule.operator and rule.operator.kind == "keep"):
                    continue  # found through its detectors / changes nothing
                expression = _key_expression(last_named_step(rule.steps))
                if expression is None:
                    always = True
                else:
                    entries.append(Entry(expression, (DIRTY, -1)))
        return entries, always


def _key_expression(step: Step | None) -> Prefilter | None:
    """Raw bytes that must occur for a whole-value rule to apply: `"name":`."""
    if step is None or "[" in step.name:
        return None
    name = step.name
    parts = []
    for ch in name:
        if ch == "*":
            parts.append('[^"]*')
        elif ch == "?":
            parts.append('[^"]')
        else:
            parts.append(re.escape(ch))
    body = '"' + "".join(parts) + r'"[ \t\r\n]*:'
    return Prefilter(body.encode("utf-8"), caseless=step.kind == "glob")


_CACHE: OrderedDict[tuple[str, ...], Plan] = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 32


def plan_for(profiles: Sequence[Profile]) -> Plan:
    """The (cached) plan for these profiles. Sorted by name first, so that the
    order policies were evaluated in never changes the output."""
    profiles = sorted({p.name: p for p in profiles}.values(), key=lambda p: p.name)
    key = tuple(p.digest for p in profiles)
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    plan = Plan(profiles)
    with _LOCK:
        _CACHE[key] = plan
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return plan
