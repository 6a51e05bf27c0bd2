"""The canonical JSON encoding every audit artefact is hashed and signed in.

One encoding for events, batch lines and manifests, so that a verifier in any
language can rebuild the exact bytes (docs/audit.md, "Canonical encoding"):

- UTF-8, no byte order mark, no insignificant white space;
- object members sorted by key, by Unicode code point;
- strings escape only `"`, `\\` and U+0000–U+001F (`\\b \\f \\n \\r \\t`, else
  `\\u00xx` in lower-case hex); every other character is written as itself;
- numbers are integers only: a float has several spellings (and NaN none), so
  durations are integer microseconds and sizes integer bytes;
- `true`, `false`, `null` as usual.

For keys that are all in the Basic Multilingual Plane (every key this schema
defines) this is the same as RFC 8785 (JCS) on integer-only documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _check(value: Any) -> None:
    """Refuse what has no single canonical spelling before it is encoded."""
    if isinstance(value, float):
        raise ValueError("canonical JSON allows integers only, not floats")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("canonical JSON object keys must be strings")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    elif not (value is None or isinstance(value, str | int | bool)):
        raise ValueError(f"canonical JSON cannot encode {type(value).__name__}")


def encode(value: Any) -> bytes:
    """The canonical bytes of a JSON value (no trailing newline).

    Raises ValueError for floats, non-string keys, other types, and strings
    that are not valid Unicode (lone surrogates)."""
    _check(value)
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("canonical JSON strings must be valid Unicode") from exc


def decode(data: bytes) -> Any:
    """Parse canonical JSON, refusing anything not in its canonical form, so that
    two different byte strings can never verify as the same document."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if encode(value) != data:
        raise ValueError("not in canonical form")
    return value


def _no_float(text: str) -> Any:
    raise ValueError(f"non-integer number {text!r}")


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits and a `Z`:
    fixed width, so times also sort correctly as strings."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if len(text) != 27 or not text.endswith("Z"):
        raise ValueError(f"not an audit time: {text!r}")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
