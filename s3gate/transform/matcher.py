"""Findings in one segment of text (a text line, a JSON string) and their
replacement, plus the per-run context that counts them and refuses the
object on `block` / `hold`.

Overlaps are resolved strongest operator first, then leftmost, then
longest: `https://u:pw@db.example.com` yields the URL password (redact), not
an "email" `pw@db.example.com` (tokenize) that overlaps it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from s3gate.transform.errors import MaskingBlocked
from s3gate.transform.operators import Operator, rewrite
from s3gate.transform.plan import BoundDetector, Plan
from s3gate.transform.summary import MaskSummary


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    bound: BoundDetector
    operator: Operator


class RunContext:
    """State of one masking run: the plan, the counters, pending holds."""

    def __init__(self, plan: Plan, summary: MaskSummary) -> None:
        self.plan = plan
        self.summary = summary
        self.held: set[str] = set()
        # JSONL lines the record rules have seen (gives their line numbers).
        self.lines_checked = 0
        # The keyed JSON path's caches (`jsonvalue`): raw key → name, and
        # name → whether a key-held detector names it.
        self.key_names: dict[bytes, str] = {}
        self.key_matters: dict[str, bool] = {}

    def count(
        self, source: str, op: Operator, *, rule: bool = False, refusal: str | None = None
    ) -> None:
        """Count one replacement by `source`; refuse the object if `op` does.
        `refusal` is the id named to the client (detectors: "profile:id")."""
        (self.summary.rules if rule else self.summary.detectors)[source] += 1
        self.summary.operators[op.kind] += 1
        if op.kind == "block":
            self.summary.blocked = (refusal or source,)
            raise MaskingBlocked([refusal or source])
        if op.kind == "hold":
            # Keep going: a later `block` must still win over this hold.
            self.held.add(refusal or source)

    def replacement(self, op: Operator, value: str, label: str, normalize: str) -> str:
        if op.refuses:  # the object is refused anyway; never echo the value
            return f"[REDACTED:{label}]"
        return rewrite(op, value, label, self.plan.keys, normalize)


def find(
    text: str,
    detectors: Iterable[tuple[BoundDetector, Operator]],
    key: str | None = None,
    near: dict[int, list[int]] | None = None,
) -> list[Finding]:
    """Findings of `detectors` in `text`. `near`: where in `text` each
    detector's prefilter hits end (by detector index); a detector with
    positions there runs only around them (`Detector.find_near`), one
    without scans the whole text."""
    found: list[Finding] = []
    for bound, op in detectors:
        positions = near.get(bound.index) if near is not None else None
        det = bound.detector
        spans = det.find(text, key) if positions is None else det.find_near(text, positions, key)
        for span in spans:
            found.append(Finding(span.start, span.end, bound, op))
    return resolve(found) if len(found) > 1 else found


# The escapes a string may hold and still be windowed: the built-in
# prefilters read `\n` `\t` `\r` as the start of a value (`_START`) and `\"`
# ends in a quote. Any other (`\uXXXX`, `\/`, `\b`, `\f`, `\\`) can hide a
# value's left context or text itself from the prefilters: full scan.
_SHORT_ESCAPES = (b"\\n", b"\\t", b"\\r", b'\\"')


def string_positions(token: bytes, hits: Iterable[tuple[int, int]]) -> dict[int, list[int]] | None:
    """Where hits end in a JSON string's decoded text: (detector, end)
    with ends relative to the token's opening quote, to positions in the
    text. None when the string holds an escape other than
    `_SHORT_ESCAPES`: it takes the full scan.
    A position may be off by one where a hit ends inside an escape or a
    UTF-8 sequence; `NEAR_SLACK` covers that."""
    escaped = b"\\" in token
    if escaped and token.count(b"\\") != sum(token.count(e) for e in _SHORT_ESCAPES):
        return None
    plain = token.isascii()
    near: dict[int, list[int]] = {}
    for det, end in hits:
        pos = end - 1
        if not plain:
            pos = len(token[1:end].decode("utf-8", "ignore"))
        if escaped:
            pos -= token.count(b"\\", 1, end)
        near.setdefault(det, []).append(pos)
    return near


def resolve(findings: list[Finding]) -> list[Finding]:
    ordered = sorted(
        findings,
        key=lambda f: (-f.operator.strength, f.start, f.start - f.end, f.bound.index),
    )
    # The kept findings never overlap, so sorted by start their ends are
    # sorted too: one finding need only be checked against its neighbours
    # (a line with thousands of findings costs n log n, not n squared).
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Finding] = []
    for f in ordered:
        i = bisect.bisect_right(starts, f.start)
        if i and ends[i - 1] > f.start:
            continue
        if i < len(starts) and starts[i] < f.end:
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.insert(i, f)
    return kept


def apply(text: str, findings: list[Finding], ctx: RunContext) -> tuple[str, bool]:
    """`text` with each finding replaced; also whether any finding says drop."""
    out: list[str] = []
    pos = 0
    dropped = False
    for f in findings:
        det = f.bound.detector
        ctx.count(det.id, f.operator, refusal=f.bound.refusal_id)
        dropped = dropped or f.operator.kind == "drop"
        out.append(text[pos : f.start])
        out.append(
            ctx.replacement(f.operator, text[f.start : f.end], det.label, det.spec.normalize)
        )
        pos = f.end
    out.append(text[pos:])
    return "".join(out), dropped


def scope_pairs(
    plan: Plan, candidates: Iterable[int], scope: dict[int, Operator | None]
) -> list[tuple[BoundDetector, Operator]]:
    """Detectors to run: candidates that are in scope, with their operator."""
    pairs = []
    for idx in sorted(set(candidates)):
        if idx in scope:
            bound = plan.detectors[idx]
            pairs.append((bound, scope[idx] or bound.operator))
    return pairs
