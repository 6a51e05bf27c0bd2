"""The canonical JSON encoding every audit artefact is hashed and signed in.

One encoding for events, batch lines and manifests, so that a verifier in any
language can rebuild the exact bytes (docs/audit.md, "Canonical encoding"):

- UTF-8, no byte order mark, no insignificant white space;
- object members sorted by key, by Unicode code point;
- strings escape only `"`, `\\` and U+0000 to U+001F (`\\b \\f \\n \\r \\t`, else
  `\\u00xx` in lower-case hex); every other character is written as itself;
- numbers are integers only: a float has several spellings (and NaN none), so
  durations are integer microseconds and sizes integer bytes;
- `true`, `false`, `null` as usual.

For keys that are all in the Basic Multilingual Plane (every key this schema
defines) this is the same as RFC 8785 (JCS) on integer-only documents.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


_SCALARS = frozenset((str, int, bool, type(None)))


def _check(value: Any) -> None:
    """Refuse what has no single canonical spelling before it is encoded.

    Exact type checks against a set (not isinstance against ABCs), recursing
    only into containers: this runs for every audit event on the request
    path, so it has to be cheap."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError("canonical JSON object keys must be strings")
            if type(item) not in _SCALARS:
                _check(item)
    elif kind is list or kind is tuple:
        for item in value:
            if type(item) not in _SCALARS:
                _check(item)
    elif kind is float:
        raise ValueError("canonical JSON allows integers only, not floats")
    else:
        raise ValueError(f"canonical JSON cannot encode {kind.__name__}")


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
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is the fastest spelling; cut its "+00:00" for the "Z".
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    if len(text) != 27 or not text.endswith("Z"):
        raise ValueError(f"not an audit time: {text!r}")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
