"""Operators: what happens to a finding.

`redact` → `[REDACTED:LABEL]`; `mask` keeps the last N characters;
`tokenize` → keyed HMAC token; `drop` removes the JSON member (or, in text,
the match); `block` refuses the object; `hold` refuses it pending approval;
`keep` (field rules only) leaves a field alone.

When several rules claim the same text the strongest operator wins, in the
order of `STRENGTH`: nothing weaker ever overrides a stronger decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from s3gate.transform.tokenkeys import TokenKeys
from s3gate.transform.validators import digits

Kind = Literal["keep", "mask", "tokenize", "redact", "drop", "hold", "block"]
KINDS: tuple[Kind, ...] = ("keep", "mask", "tokenize", "redact", "drop", "hold", "block")
STRENGTH: dict[str, int] = {kind: rank for rank, kind in enumerate(KINDS)}
# Operators that refuse the object instead of rewriting it.
REFUSING = frozenset({"hold", "block"})
DEFAULT_KEEP_LAST = 4
MASK_CHAR = "*"

_LABEL = re.compile(r"^[A-Z0-9_]{1,40}$")


@dataclass(frozen=True)
class Operator:
    kind: Kind
    keep_last: int = DEFAULT_KEEP_LAST
    label: str | None = None

    @property
    def strength(self) -> int:
        return STRENGTH[self.kind]

    @property
    def refuses(self) -> bool:
        return self.kind in REFUSING


def valid_label(label: str) -> bool:
    return bool(_LABEL.match(label))


def normalize(value: str, how: str) -> str:
    """The form of a value that is tokenized: equal people, equal tokens."""
    if how == "casefold":
        return value.strip().casefold()
    if how == "digits":
        return digits(value)
    if how == "phone":
        plus = "+" if value.lstrip().startswith("+") else ""
        return plus + digits(value)
    return value


def rewrite(op: Operator, value: str, label: str, keys: TokenKeys, how: str = "none") -> str:
    """The replacement text for `value` (drop returns "")."""
    kind = op.kind
    if kind == "redact":
        return f"[REDACTED:{op.label or label}]"
    if kind == "tokenize":
        return keys.token(normalize(value, how))
    if kind == "mask":
        n = op.keep_last
        if len(value) <= n:
            return MASK_CHAR * len(value)
        return MASK_CHAR * (len(value) - n) + value[-n:] if n else MASK_CHAR * len(value)
    if kind == "drop":
        return ""
    if kind == "keep":
        return value
    raise ValueError(f"operator {kind} does not rewrite")
