"""JSON field selectors: a small JSONPath subset and key-name globs, matched
incrementally while a document is walked.

Supported:  `$`  `.name`  `['name']` / `["name"]`  `.*` / `[*]` (any member
or element)  `[3]`  `..name` / `..*` (at any depth below). Name steps may be
globs (`*token*`, `x-api-?ey`), matched case-insensitively; plain names
match exactly. A `key:` rule `*token*` is `$..*token*`.

The walker keeps, per open container, a *state*: the set of (selector, step)
positions reached. Moving into a member or element is one cached transition,
so matching costs a dict lookup per value however many rules there are.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

Component = str | int


class PathError(ValueError):
    """A selector that does not parse; the message says where."""


@dataclass(frozen=True)
class Step:
    kind: str  # "name" | "glob" | "any" | "index"
    name: str = ""
    index: int = 0
    descendant: bool = False
    _regex: re.Pattern[str] | None = None

    def matches(self, c: Component) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "index":
            return isinstance(c, int) and c == self.index
        if not isinstance(c, str):
            return False
        if self.kind == "name":
            return c == self.name
        assert self._regex is not None
        return self._regex.match(c) is not None

    @property
    def literal(self) -> str | None:
        """The key name this step needs, when it is a plain name."""
        return self.name if self.kind == "name" else None


def _name_step(name: str, descendant: bool) -> Step:
    if name == "*":
        return Step("any", descendant=descendant)
    if any(ch in name for ch in "*?["):
        regex = re.compile(fnmatch.translate(name), re.IGNORECASE | re.DOTALL)
        return Step("glob", name=name, descendant=descendant, _regex=regex)
    return Step("name", name=name, descendant=descendant)


_BRACKET = re.compile(r"""\[(?:(?P<star>\*)|(?P<index>-?\d+)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]""")
_BARE = re.compile(r"[^.\[\]'\"]+")


def parse_path(path: str) -> tuple[Step, ...]:
    if not path.startswith("$"):
        raise PathError(f"path {path!r} must start with '$'")
    steps: list[Step] = []
    pos, n = 1, len(path)
    while pos < n:
        descendant = path.startswith("..", pos)
        dotted = descendant or path[pos] == "."
        if dotted:
            pos += 2 if descendant else 1
        elif path[pos] != "[":
            raise PathError(f"path {path!r}: expected '.' or '[' at character {pos + 1}")
        if pos < n and path[pos] == "[" and (descendant or not dotted):
            m = _BRACKET.match(path, pos)
            if m is None:
                raise PathError(f"path {path!r}: bad bracket step at character {pos + 1}")
            steps.append(_bracket(m, descendant))
        else:
            m = _BARE.match(path, pos)
            if m is None:
                raise PathError(f"path {path!r}: a name must follow '.' at character {pos + 1}")
            steps.append(_name_step(m.group(), descendant))
        pos = m.end()
    return tuple(steps)


def _bracket(m: re.Match[str], descendant: bool) -> Step:
    if m.group("star"):
        return Step("any", descendant=descendant)
    if m.group("index") is not None:
        index = int(m.group("index"))
        if index < 0:
            raise PathError("negative array indexes are not supported")
        return Step("index", index=index, descendant=descendant)
    name = m.group("sq") if m.group("sq") is not None else m.group("dq")
    assert name is not None
    return Step("name", name=name, descendant=descendant)


def key_glob(glob: str) -> tuple[Step, ...]:
    """`key: "*token*"` → any member at any depth whose key matches."""
    if not glob:
        raise PathError("empty key pattern")
    step = _name_step(glob, descendant=True)
    if step.kind == "name":  # plain key names match case-insensitively too
        regex = re.compile(fnmatch.translate(glob), re.IGNORECASE | re.DOTALL)
        step = Step("glob", name=glob, descendant=True, _regex=regex)
    return (step,)


State = frozenset[tuple[int, int]]


class Selectors:
    """A set of compiled selectors with cached state transitions."""

    MAX_CACHE = 20000

    def __init__(self, selectors: Sequence[tuple[Step, ...]]) -> None:
        self._steps = list(selectors)
        self.root: State = frozenset((i, 0) for i in range(len(self._steps)))
        self._next: dict[tuple[State, Component], State] = {}
        self._accepting: dict[State, tuple[int, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._steps)

    def step(self, state: State, c: Component) -> State:
        cache_key = (state, c)
        found = self._next.get(cache_key)
        if found is not None:
            return found
        out: set[tuple[int, int]] = set()
        for sel, pos in state:
            steps = self._steps[sel]
            if pos >= len(steps):
                continue
            step = steps[pos]
            if step.descendant:
                out.add((sel, pos))
            if step.matches(c):
                out.add((sel, pos + 1))
        new = frozenset(out)
        if len(self._next) >= self.MAX_CACHE:
            self._next.clear()
        self._next[cache_key] = new
        return new

    def accepting(self, state: State) -> tuple[int, ...]:
        """Selectors that match the value at this state, in index order."""
        found = self._accepting.get(state)
        if found is None:
            found = tuple(sorted(sel for sel, pos in state if pos == len(self._steps[sel])))
            if len(self._accepting) >= self.MAX_CACHE:
                self._accepting.clear()
            self._accepting[state] = found
        return found


def last_named_step(steps: tuple[Step, ...]) -> Step | None:
    """The last plain or glob key-name step of a selector (for the prefilter)."""
    for step in reversed(steps):
        if step.kind in ("name", "glob"):
            return step
    return None
