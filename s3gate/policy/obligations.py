"""Obligations: what an allowed request must also go through.

They are annotations on `permit` policies:

    @mask("analyst-view")     the masking profile for this read or write
    @approval("security")     the request waits for approval by this group

Merge rule, when several permits determine one decision: every obligation of
every determining permit applies. `masks` and `approvals` keep the order of
the policies in the bundle (file path, then position), without repeats.
Composing several masking profiles (most restrictive wins) is the masking
layer's job; any approval listed is required. A permit without `@mask` adds no
profile: a decision whose `masks` is empty is an unmasked one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "mask"
APPROVAL = "approval"
OBLIGATION_ANNOTATIONS = (MASK, APPROVAL)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Obligations:
    masks: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.masks or self.approvals)

    def describe(self) -> dict[str, list[str]]:
        return {"masks": list(self.masks), "approvals": list(self.approvals)}


NONE = Obligations()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def from_annotations(annotations: Iterable[Mapping[str, str]]) -> Obligations:
    """Obligations of the determining permits, given in bundle order."""
    listed = list(annotations)
    return Obligations(
        masks=_unique(a[MASK] for a in listed if MASK in a),
        approvals=_unique(a[APPROVAL] for a in listed if APPROVAL in a),
    )


def combine(parts: Iterable[Obligations]) -> Obligations:
    """Obligations of an operation decided as several requests (CopyObject)."""
    listed = list(parts)
    return Obligations(
        masks=_unique(m for o in listed for m in o.masks),
        approvals=_unique(a for o in listed for a in o.approvals),
    )


def check_annotations(effect: str, annotations: Mapping[str, str]) -> list[str]:
    """Problems with a policy's obligation annotations (empty when fine)."""
    problems = []
    for name in OBLIGATION_ANNOTATIONS:
        if name not in annotations:
            continue
        value = annotations[name]
        if effect != "permit":
            problems.append(
                f"@{name} on a forbid policy has no effect; obligations come from permits"
            )
        elif not _NAME.match(value):
            problems.append(f'@{name}("{value}"): give a name of letters, digits, ".", "_", "-"')
    return problems
