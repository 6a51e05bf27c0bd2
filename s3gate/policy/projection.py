"""Which parts of a request the policies of a bundle can observe.

A listing page asks for hundreds of decisions that differ only in the key.
When no policy looks at the key itself (only at, say, `bucket` and `dir1`),
those decisions are equal, and one Cedar evaluation per distinct value of the
observed attributes answers the whole page.

The analysis walks the policies' JSON form (EST). The resource and the context
are observed only through attribute chains (`resource.dir1`,
`context.now.hour`) and `has` tests; the paths found are the projection.
Anything else that touches `resource` or `context` (the bare variable in a set
or a record, `resource == Object::"…"`, `resource in Prefix::"…"`, …) makes
the whole thing observable, and the grouping falls back to the full resource
uid or context. Comparisons of `resource` with a `Bucket` entity are fine:
they depend only on the resource's kind and bucket, which every key includes.
The principal and the action are always part of the key.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]
_VARS = ("resource", "context")
_ABSENT = ("absent",)  # no value is a 1-tuple


@dataclass
class _Seen:
    paths: dict[str, set[Path]] = field(default_factory=lambda: {v: set() for v in _VARS})
    opaque: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Projection:
    # None: the variable is observed as a whole (no grouping on it).
    resource_paths: frozenset[Path] | None
    context_paths: frozenset[Path] | None

    def resource_key(self, kind: str, bucket: str, uid: str, attrs: Mapping[str, Any]) -> Hashable:
        if self.resource_paths is None:
            return (kind, uid)
        return (kind, bucket, *(_value_at(attrs, p) for p in sorted(self.resource_paths)))

    def context_key(self, record: Mapping[str, Any]) -> Hashable:
        if self.context_paths is None:
            return json.dumps(record, sort_keys=True)
        return tuple(_value_at(record, p) for p in sorted(self.context_paths))


def _value_at(record: Mapping[str, Any], path: Path) -> Hashable:
    value: Any = record
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return _ABSENT
        value = value[name]
    if isinstance(value, str | int):  # the common case, kept cheap
        return (type(value).__name__, value)  # True == 1, but not here
    return json.dumps(value, sort_keys=True)


def analyse(policies: Iterable[Mapping[str, Any]]) -> Projection:
    seen = _Seen()
    for policy in policies:
        _scope(policy.get("resource", {}), seen)
        for condition in policy.get("conditions", []):
            _walk(condition.get("body"), seen)
    return Projection(
        resource_paths=None if "resource" in seen.opaque else frozenset(seen.paths["resource"]),
        context_paths=None if "context" in seen.opaque else frozenset(seen.paths["context"]),
    )


def _is_bucket_entity(node: Any) -> bool:
    """A scope's `{"entity": …}` or a literal `{"Value": {"__entity": …}}` of type Bucket."""
    if not isinstance(node, Mapping):
        return False
    entity = node.get("entity")
    value = node.get("Value")
    if entity is None and isinstance(value, Mapping):
        entity = value.get("__entity")
    return isinstance(entity, Mapping) and entity.get("type") == "Bucket"


def _scope(scope: Mapping[str, Any], seen: _Seen) -> None:
    op = scope.get("op", "All")
    if op == "All" or (op == "is" and ("in" not in scope or _is_bucket_entity(scope["in"]))):
        return
    if op in ("==", "in") and _is_bucket_entity(scope):
        return
    seen.opaque.add("resource")


def _chain(node: Any) -> tuple[str, Path] | None:
    """`{"Var": v}` → (v, ()); `v.a.b` → (v, ("a", "b")); otherwise None."""
    if not isinstance(node, Mapping):
        return None
    if set(node) == {"Var"}:
        return str(node["Var"]), ()
    if set(node) == {"."}:
        inner = _chain(node["."].get("left"))
        if inner is not None:
            return inner[0], (*inner[1], str(node["."]["attr"]))
    return None


def _walk(node: Any, seen: _Seen) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, seen)
        return
    if not isinstance(node, Mapping):
        return
    if len(node) == 1:
        (op, arg), *_ = node.items()
        if op in (".", "has") and isinstance(arg, Mapping):
            base = _chain(arg.get("left"))
            if base is not None:
                var, path = base
                if var in _VARS:
                    seen.paths[var].add((*path, str(arg["attr"])))
                return
        elif op == "Var":
            if arg in _VARS:
                seen.opaque.add(str(arg))
            return
        elif op == "is" and isinstance(arg, Mapping) and "in" not in arg:
            if _chain(arg.get("left")) == ("resource", ()):
                return  # the kind is part of every key
        elif op in ("==", "!=", "in") and isinstance(arg, Mapping):
            sides = (arg.get("left"), arg.get("right"))
            if any(_chain(s) == ("resource", ()) for s in sides) and any(
                _is_bucket_entity(s) for s in sides
            ):
                return
    for value in node.values():
        _walk(value, seen)
