"""Cedar source text: split it into statements and name the file and line of
each problem.

cedarpy reports parse and validation errors without a position, and names
policies `policy0`, `policy1`, … in the order they appear. Splitting a file
into its `;`-terminated statements ourselves gives each policy its line, so
every error can say `access/analyst.cedar:12: …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class BundleError(Exception):
    """A bundle that cannot be used; names every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class PolicyInfo:
    id: str
    file: str
    line: int
    effect: str  # "permit" | "forbid"
    annotations: Mapping[str, str] = field(default_factory=dict)
    order: int = 0  # position in the bundle (file path, then place in file)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Chunk:
    text: str
    line: int  # 1-based line of its first character that is not blank or comment


def _scan(text: str, *, schema: bool) -> list[Chunk]:
    """Split on `;` outside strings and `//` comments. For a schema, only at
    brace depth 0, and a `namespace … { … }` block is one statement."""
    chunks: list[Chunk] = []
    start = 0
    first: int | None = None  # offset of the first significant character
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c.isspace():
            i += 1
            continue
        if first is None:
            first = i
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if schema and c == "{":
            depth += 1
        elif schema and c == "}":
            depth -= 1
            if depth == 0 and text[first:].startswith("namespace"):
                chunks.append(_chunk(text, start, i + 1, first))
                start, first = i + 1, None
        elif c == ";" and depth <= 0:
            chunks.append(_chunk(text, start, i + 1, first))
            start, first = i + 1, None
        i += 1
    if first is not None:  # trailing text without `;`: let the parser complain
        chunks.append(_chunk(text, start, n, first))
    return chunks


def _chunk(text: str, start: int, end: int, first: int) -> Chunk:
    return Chunk(text[start:end], text.count("\n", 0, first) + 1)


def split_policies(text: str) -> list[Chunk]:
    return _scan(text, schema=False)


def split_declarations(text: str) -> list[Chunk]:
    return _scan(text, schema=True)


def locate_word(text: str, word: str) -> int | None:
    """Line of the first occurrence of `word` as a whole word outside
    comments (best effort, to place errors that come without a position)."""
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("//", 1)[0]
        at = code.find(word)
        while at >= 0:
            before = code[at - 1] if at > 0 else " "
            after = code[at + len(word)] if at + len(word) < len(code) else " "
            if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                return number
            at = code.find(word, at + 1)
    return None
