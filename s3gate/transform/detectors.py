"""A detector: a precise Python regex (plus validator and context keywords)
that finds sensitive spans in one segment of text, and the looser hyperscan
expressions that find the segments worth looking at.

The contract between the two halves is what keeps the fast path correct:
every finding of `find` in a segment implies a prefilter match that *ends*
inside that segment's raw bytes. Built-in prefilters are written by hand to
keep that promise; for custom patterns the pattern itself is compiled in
hyperscan's prefilter mode, which guarantees a superset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from s3gate.transform.regexshape import shape
from s3gate.transform.validators import VALIDATORS, Validator

# Named groups whose text is the sensitive part; the first that took part
# in a match wins. Without one, the whole match is sensitive.
VALUE_GROUPS = ("value", "value2")
# `find_near`: a hit's region reaches this many characters each side of the
# hit's end before it is widened to whole runs (covers a hit that ends on
# the delimiter after a value, or inside a JSON escape; see docs/masking.md).
NEAR_SLACK = 8
# Strings shorter than this are scanned whole: the window costs more calls.
NEAR_MIN_CHARS = 160


@dataclass(frozen=True)
class Examples:
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prefilter:
    expression: bytes
    # True: compile in hyperscan's prefilter mode (a superset of the regex).
    approximate: bool = False
    caseless: bool = False


@dataclass(frozen=True)
class DetectorSpec:
    id: str
    label: str
    pattern: str
    description: str = ""
    prefilters: tuple[Prefilter, ...] = ()
    # Validator name per value group ("value", "value2" or "match").
    validators: tuple[tuple[str, str], ...] = ()
    # Keywords one of which must occur within `context_window` characters of
    # the match (or in the JSON key that holds it).
    context: tuple[str, ...] = ()
    context_window: int = 0
    # JSON members whose key matches this regex hold a sensitive scalar.
    json_key: str | None = None
    json_key_prefilter: bytes | None = None
    # JSON *numbers* under a key matching this regex are this detector's
    # value when their digits pass `number_validator`: a phone number or an
    # SSN cannot be written with its separators as a JSON number, so the key
    # is the only context there is. The prefilter flags `"key": <digit>`.
    number_key: str | None = None
    number_key_prefilter: bytes | None = None
    number_validator: str | None = None
    # How a value is normalised before tokenizing (equal tokens for equal people).
    normalize: str = "none"
    # In text mode this detector may span lines (PEM blocks).
    multiline: bool = False
    examples: Examples = field(default_factory=Examples)
    builtin: bool = True
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


class Detector:
    """A compiled detector. Thread-safe and shared by every request."""

    def __init__(self, spec: DetectorSpec) -> None:
        self.spec = spec
        self.id = spec.id
        self.label = spec.label
        flags = re.ASCII | (re.IGNORECASE if spec.ignore_case else 0)
        self.regex = re.compile(spec.pattern, flags)
        self._validators: dict[str, Validator] = {
            group: VALIDATORS[name] for group, name in spec.validators
        }
        self._groups = [g for g in VALUE_GROUPS if g in self.regex.groupindex]
        self._context = tuple(k.lower() for k in spec.context)
        self.json_key = re.compile(spec.json_key, re.IGNORECASE) if spec.json_key else None
        self.number_key = re.compile(spec.number_key, re.IGNORECASE) if spec.number_key else None
        self._number_check = VALIDATORS[spec.number_validator] if spec.number_validator else None
        self.multiline = spec.multiline
        # The windowed run (`find_near`), where the pattern's shape allows it,
        # for built-ins only: their prefilters are written to flag each value
        # where it is (tested on their examples). A custom pattern's
        # prefilter reads raw JSON, where `\b` before a value escaped as
        # `\nABC` fails: it is found only by a whole-string scan that
        # another hit in the string started, as before.
        form = shape(spec.pattern, flags)
        self._breaker: re.Pattern[str] | None = None
        self._lookahead = form.lookahead
        if spec.builtin and form.breakers and form.min_width > 0:
            chars = "".join(f"\\x{code:02x}" for code in sorted(form.breakers))
            self._breaker = re.compile(f"[{chars}]")

    def prefilters(self) -> tuple[Prefilter, ...]:
        if self.spec.prefilters:
            return self.spec.prefilters
        return (
            Prefilter(self.spec.pattern.encode(), approximate=True, caseless=self.spec.ignore_case),
        )

    @property
    def windowed(self) -> bool:
        """Does `find_near` scan less than the whole string?"""
        return self._breaker is not None

    def find(self, text: str, key: str | None = None) -> list[Span]:
        """Sensitive spans in `text`; `key` is the JSON key holding it, if any."""
        return self._spans(text, self.regex.finditer(text), key)

    def find_near(self, text: str, near: list[int], key: str | None = None) -> list[Span]:
        """`find`'s spans in the regions of `text` around the positions
        `near` (where this detector's prefilter hits end, in sorted order).

        A region is the run of characters between two breakers (characters
        no match can contain, `regexshape`) that holds a position, widened
        by `NEAR_SLACK` each side. No match straddles a breaker, so the full
        scan's chain of matches is, run by run, the chain of each run: the
        region's matches are exactly the full scan's there, including those
        the validator rejects. The regex still sees the whole string before
        a region (lookbehinds) and `lookahead` characters past it.
        Which regions hold every finding is the locality contract the
        prefilters keep (tested: tests/unit/transform/test_windowed.py)."""
        breaker = self._breaker
        size = len(text)
        if breaker is None or size < NEAR_MIN_CHARS:
            return self.find(text, key)
        rev: str | None = None
        regions: list[tuple[int, int]] = []
        for pos in near:
            lo, hi = min(size, max(0, pos - NEAR_SLACK)), min(size, pos + NEAR_SLACK)
            if regions and lo <= regions[-1][1]:
                if hi <= regions[-1][1]:
                    continue
                start = regions[-1][0]
                regions.pop()
            else:
                # Just after the last breaker before `lo` (reversed text:
                # Python's regex engine searches forwards only).
                if lo == 0:
                    start = 0
                else:
                    if rev is None:
                        rev = text[::-1]
                    back = breaker.search(rev, size - lo)
                    start = 0 if back is None else size - back.start()
            fwd = breaker.search(text, hi)
            regions.append((start, size if fwd is None else fwd.start()))
        search = self.regex.search
        ahead = self._lookahead
        matches = []
        for start, stop in regions:
            # Past `stop` (a breaker) a match attempt reads at most the
            # lookahead's width: the +2 covers `$` and `\b` there.
            endpos = size if ahead is None else min(size, stop + ahead + 2)
            pos = start
            while pos < stop:
                m = search(text, pos, endpos)
                if m is None or m.start() >= stop:
                    break
                matches.append(m)
                pos = m.end()
        return self._spans(text, matches, key)

    def _spans(self, text: str, matches: Iterable[re.Match[str]], key: str | None) -> list[Span]:
        spans: list[Span] = []
        for m in matches:
            group = "match"
            start, end = m.span()
            for name in self._groups:
                if m.start(name) >= 0:
                    group = name
                    start, end = m.span(name)
                    break
            if start == end:
                continue
            check = self._validators.get(group) or self._validators.get("match")
            if check is not None and not check(text[start:end]):
                continue
            if self._context and not self._in_context(text, m.start(), m.end(), key):
                continue
            spans.append(Span(start, end))
        return spans

    def accepts_value(self, value: str) -> bool:
        """A scalar held by a matching JSON key: does it look like a real value?"""
        check = self._validators.get("value") or self._validators.get("match")
        return bool(value) and (check is None or check(value))

    def accepts_number(self, key: str, digits: str) -> bool:
        """A JSON number's digits under `key`: is it this detector's value?"""
        return (
            self.number_key is not None
            and self._number_check is not None
            and self.number_key.search(key) is not None
            and self._number_check(digits)
        )

    def _in_context(self, text: str, start: int, end: int, key: str | None) -> bool:
        window = self.spec.context_window
        around = text[max(0, start - window) : end + window].lower()
        if key is not None:
            around += "\n" + key.lower()
        return any(k in around for k in self._context)


def deny_list_pattern(terms: tuple[str, ...]) -> str:
    """Exact terms, case-insensitive, not inside a longer word."""
    parts = []
    for term in sorted(set(terms), key=lambda t: (-len(t), t)):
        escaped = re.escape(term)
        if term[:1].isalnum() or term[:1] == "_":
            escaped = r"(?<![A-Za-z0-9_])" + escaped
        if term[-1:].isalnum() or term[-1:] == "_":
            escaped += r"(?![A-Za-z0-9_])"
        parts.append(escaped)
    return "(?:" + "|".join(parts) + ")"


_ASCII_RUN = re.compile(r"[\x20-\x7e]+")


def deny_list_prefilters(terms: tuple[str, ...]) -> tuple[Prefilter, ...]:
    """Hyperscan is caseless in ASCII only: a term with other letters is
    found through its longest ASCII run (a superset), or, failing that,
    through its lower- and upper-case spellings."""
    out: list[Prefilter] = []
    for term in sorted(set(terms)):
        if term.isascii():
            out.append(Prefilter(re.escape(term).encode(), caseless=True))
            continue
        runs = sorted(_ASCII_RUN.findall(term), key=len, reverse=True)
        if runs and len(runs[0].strip()) >= 3:
            out.append(Prefilter(re.escape(runs[0]).encode(), caseless=True))
        else:
            for variant in {term, term.lower(), term.upper(), term.casefold()}:
                out.append(Prefilter(re.escape(variant).encode("utf-8"), caseless=True))
    return tuple(out)
