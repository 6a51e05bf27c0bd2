"""What a compiled Python pattern can consume, read from its parse tree.

The windowed detector run (`detectors.Detector.find_near`) is exact only
because of two facts derived here, from the pattern itself and never from
examples:

- `breakers`: ASCII characters that no match of the pattern can contain
  (lookarounds aside, which consume nothing). A match never straddles a
  breaker, so the full `finditer` chain over a string is the union of its
  chains over the runs between breakers; a run can be scanned on its own.
- `lookahead`: how far past a position the pattern's lookaheads may read.
  Scanning a run with `endpos` set that far past its end gives the same
  matches as scanning the whole string.

Anything the analysis does not understand makes the answer "no breakers"
(the detector then scans whole strings, as before): it is conservative by
construction.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

# The parser behind `re` (its tree is what `re.compile` compiles).
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

ALL_ASCII = frozenset(range(128))
# Widths past this count as unbounded (`getwidth` reports MAXREPEAT there).
UNBOUNDED = 1 << 20
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_DIGIT = frozenset(b"0123456789")
_SPACE = frozenset(b" \t\n\r\f\v")
_CATEGORIES = {
    "CATEGORY_DIGIT": _DIGIT,
    "CATEGORY_NOT_DIGIT": ALL_ASCII - _DIGIT,
    "CATEGORY_WORD": _WORD,
    "CATEGORY_NOT_WORD": ALL_ASCII - _WORD,
    "CATEGORY_SPACE": _SPACE,
    "CATEGORY_NOT_SPACE": ALL_ASCII - _SPACE,
}


class _Unknown(Exception):
    """A construct the analysis does not model: give up (no breakers)."""


@dataclass(frozen=True)
class Shape:
    # ASCII code points no match can consume (empty: scan whole strings).
    breakers: frozenset[int]
    # Characters a lookahead may read past the position it is tried at;
    # None when unbounded.
    lookahead: int | None
    # Fewest characters a match consumes (0: empty matches are possible,
    # and `finditer`'s rules for them are not modelled).
    min_width: int


def shape(pattern: str, flags: int) -> Shape:
    """The shape of `pattern` compiled with `flags` (as `re.compile`)."""
    try:
        tree = _parser.parse(pattern, flags)
        flags = int(tree.state.flags)  # with the pattern's own `(?i)` etc.
        state = _Walk(flags)
        state.walk(tree, flags)
        min_width = int(tree.getwidth()[0])
    except _Unknown:
        return Shape(frozenset(), None, 0)
    allowed = frozenset(state.allowed)
    return Shape(ALL_ASCII - allowed, state.lookahead, min_width)


class _Walk:
    def __init__(self, flags: int) -> None:
        self.allowed: set[int] = set()
        self.lookahead: int | None = 0
        # Outside ASCII mode, case folding can reach ASCII from outside it
        # (the Kelvin sign and `k`): not modelled.
        self.unicode_case = not flags & _c.SRE_FLAG_ASCII

    def walk(self, tree: Any, flags: int) -> None:
        for op, av in tree:
            self.node(str(op), av, flags)

    def node(self, op: str, av: Any, flags: int) -> None:
        caseless = bool(flags & _c.SRE_FLAG_IGNORECASE)
        if op == "LITERAL":
            self.chars({av}, caseless)
        elif op == "NOT_LITERAL":
            # Any character but that one (caseless: nor its other case).
            self.allowed |= ALL_ASCII - {av}
        elif op == "ANY":
            dotall = bool(flags & _c.SRE_FLAG_DOTALL)
            self.allowed |= ALL_ASCII if dotall else ALL_ASCII - {0x0A}
        elif op == "IN":
            self.chars(self.members(av, caseless), caseless)
        elif op == "BRANCH":
            for sub in av[1]:
                self.walk(sub, flags)
        elif op == "SUBPATTERN":
            _group, add, remove, sub = av
            self.walk(sub, (flags | add) & ~remove)
        elif op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            self.walk(av[2], flags)
        elif op == "ATOMIC_GROUP":
            self.walk(av, flags)
        elif op == "GROUPREF_EXISTS":
            _group, yes, no = av
            self.walk(yes, flags)
            if no is not None:
                self.walk(no, flags)
        elif op == "GROUPREF":
            # The group's own text again: its characters are already counted;
            # caseless, also their other case.
            if caseless:
                self.chars(set(self.allowed), True)
        elif op in ("ASSERT", "ASSERT_NOT"):
            # Consumes nothing; reads ahead its own width (a lookahead) plus
            # what lookaheads nested in it read.
            direction, sub = av
            inner = _Walk(flags)
            inner.walk(sub, flags)
            width = int(sub.getwidth()[1]) if direction == 1 else 0
            if width >= UNBOUNDED or inner.lookahead is None or self.lookahead is None:
                self.lookahead = None
            else:
                self.lookahead = max(self.lookahead, width + inner.lookahead)
        elif op == "AT":
            return
        else:
            raise _Unknown(op)

    def members(self, items: Any, caseless: bool) -> set[int]:
        out: set[int] = set()
        negate = False
        for op, av in items:
            name = str(op)
            if name == "NEGATE":
                negate = True
            elif name == "LITERAL":
                out.add(av)
            elif name == "RANGE":
                low, high = av
                if high >= 128 and caseless and self.unicode_case:
                    raise _Unknown("caseless non-ASCII range")
                out.update(range(low, min(high, 127) + 1))
            elif name == "CATEGORY":
                category = str(av)
                if category not in _CATEGORIES:
                    raise _Unknown(category)
                out |= _CATEGORIES[category]
            else:
                raise _Unknown(name)
        return set(ALL_ASCII - out) if negate else out

    def chars(self, codes: set[int], caseless: bool) -> None:
        for code in codes:
            if code >= 128:
                if caseless and self.unicode_case:
                    raise _Unknown("caseless non-ASCII")
                continue
            self.allowed.add(code)
            if caseless:
                char = chr(code)
                self.allowed.update(ord(c) for c in (char.lower(), char.upper()) if c.isascii())
