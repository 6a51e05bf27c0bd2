"""JSON Schemas of record rules, compiled once when the bundle loads.

fastjsonschema turns a schema into a generated Python validator. Only
plain, local schemas get that far: JSON values only, bounded depth, every
`$ref` inside the schema (remote references are refused, never fetched:
resolving one anyway is answered with a refusal for every URI scheme), and
no validator that recurses without end. Validators are shared by equal
schemas (a reload of an unchanged profile compiles nothing) and a compiled
schema pickles as its source, so a profile can go to a masking worker.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import fastjsonschema


class SchemaError(ValueError):
    """A schema that cannot be used; the message says why."""


class _RefusingHandlers(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema fetches a `$ref` it cannot resolve locally with urllib,
    unless a handler for the URI's scheme is given: this mapping claims
    every scheme and refuses each, so compiling never reaches the network
    or the file system (`$ref`s are also checked to be local first)."""

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        def refuse(uri: str) -> Any:
            raise SchemaError(f"$ref {uri!r} is not in the schema (remote references are refused)")

        return refuse

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_MAX_SCHEMA_DEPTH = 64


def _check_schema_value(value: Any, depth: int = 0) -> None:
    """Plain JSON only (YAML could give dates or non-string keys), not
    absurdly deep, and every `$ref` local to the schema."""
    if depth > _MAX_SCHEMA_DEPTH:
        raise SchemaError(f"nested deeper than {_MAX_SCHEMA_DEPTH} levels")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SchemaError(f"key {k!r} is not a string")
            if k == "$ref" and (not isinstance(v, str) or not v.startswith("#")):
                raise SchemaError(
                    f"$ref {v!r} is not a reference inside the schema "
                    "('#…'; remote references are refused)"
                )
            _check_schema_value(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_schema_value(v, depth + 1)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        raise SchemaError(f"{type(value).__name__} values are not JSON")


class CompiledSchema:
    """A JSON Schema compiled once (fastjsonschema generates a validator
    function). Pickled as its source and recompiled through the cache, so a
    profile can cross a process boundary (the generated function cannot)."""

    def __init__(self, source: str) -> None:
        self.source = source  # canonical JSON text
        self._validate = _compile_source(source)

    @classmethod
    def of(cls, schema: Any) -> CompiledSchema:
        _check_schema_value(schema)
        if not isinstance(schema, (dict, bool)):
            raise SchemaError("a schema is a mapping (or true / false)")
        return cls(json.dumps(schema, sort_keys=True, allow_nan=False))

    def accepts(self, value: Any) -> bool:
        try:
            self._validate(value)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def __reduce__(self) -> tuple[type[CompiledSchema], tuple[str]]:
        return (CompiledSchema, (self.source,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledSchema) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


_CACHE: dict[str, Callable[[Any], Any]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 256


def _compile_source(source: str) -> Callable[[Any], Any]:
    with _CACHE_LOCK:
        found = _CACHE.get(source)
    if found is not None:
        return found
    try:
        validate = fastjsonschema.compile(
            json.loads(source),
            handlers=_RefusingHandlers(),
            # Validation must not change the record (defaults would fill it in).
            use_default=False,
        )
    except SchemaError:
        raise
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, re.error) as exc:
        raise SchemaError(f"does not compile: {exc}") from exc
    except RecursionError:
        raise SchemaError("does not compile: it refers to itself without end") from None
    _probe(validate)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[source] = validate
    return validate


# Small values every schema must be able to judge without recursing out.
_PROBES: tuple[Any, ...] = ({}, [], "", 0, None, {"a": {}}, [[]])


def _probe(validate: Callable[[Any], Any]) -> None:
    """A schema such as `{"$ref": "#"}` compiles to a validator that calls
    itself forever on every record: refuse it with the bundle rather than
    refuse every object that meets it."""
    for value in _PROBES:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaValueException:
            pass
        except RecursionError:
            raise SchemaError(f"refers to itself without end (on {value!r})") from None
