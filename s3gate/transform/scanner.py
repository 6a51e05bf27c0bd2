"""The multi-pattern prefilter: one hyperscan database per composed profile
set, scanned over whole blocks of input.

Hyperscan reports every offset at which some match of an expression ends
(no start offsets: that mode is several times slower and we do not need
it). Callers map end offsets to the record, line or JSON string they fall
in and run the precise Python patterns on just those.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import hyperscan

from s3gate.transform.detectors import Prefilter


class PrefilterError(ValueError):
    """An expression hyperscan cannot compile, with the reason."""


@dataclass(frozen=True)
class Entry:
    expression: Prefilter
    # What a hit means to the caller: ("detector", index), ("key", index), …
    tag: tuple[str, int]


def _flags(p: Prefilter) -> int:
    flags = 0
    if p.approximate:
        flags |= hyperscan.HS_FLAG_PREFILTER
    if p.caseless:
        flags |= hyperscan.HS_FLAG_CASELESS
    return flags


def check_expression(p: Prefilter) -> None:
    """Raise PrefilterError if `p` does not compile on its own."""
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[p.expression], ids=[0], elements=1, flags=[_flags(p)])
    except hyperscan.error as exc:
        raise PrefilterError(str(exc)) from exc


class Scanner:
    def __init__(self, entries: Sequence[Entry]) -> None:
        self.tags = [e.tag for e in entries]
        self._db: hyperscan.Database | None = None
        self._local = threading.local()
        if entries:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(
                expressions=[e.expression.expression for e in entries],
                ids=list(range(len(entries))),
                elements=len(entries),
                flags=[_flags(e.expression) for e in entries],
            )
            self._db = db

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        """(entry index, end offset) for every match end, in offset order."""
        if self._db is None or not data:
            return []
        hits: list[tuple[int, int]] = []
        add = hits.append

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add((index, end))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        # Hyperscan reports in end order per expression; a sort is cheap and
        # makes the order independent of its internals.
        hits.sort(key=_end)
        return hits

    def _scratch(self) -> hyperscan.Scratch:
        # A scratch space may be used by one scan at a time: one per thread.
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            assert self._db is not None
            scratch = hyperscan.Scratch(self._db)
            self._local.scratch = scratch
        return scratch


def _end(hit: tuple[int, int]) -> int:
    return hit[1]
