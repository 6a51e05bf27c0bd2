"""Is this JSON? The check every flagged record (and every record under a
profile that refuses malformed JSON) goes through, in C.

`orjson` is strict RFC 8259, a subset of what the standard library's
`json.loads` accepts (which also takes NaN, Infinity, lone surrogate escapes,
a UTF-8 BOM, UTF-16/32 bytes): what orjson accepts, `json` accepts, so
"orjson says yes" answers for both, and only a "no" is asked again of
`json`, whose answer stands. The one thing orjson accepts that `json` may
not is nesting near Python's recursion limit (orjson's own limit is 1024):
a value with that many brackets is always left to `json`, which raises
RecursionError there as before (the engine refuses it as too deep).
"""

from __future__ import annotations

import json

import orjson

# Fewer brackets than this cannot nest deep enough for `json` to recurse out.
_DEEP = 512


def is_json(raw: bytes) -> bool:
    """Whether `json.loads(raw)` succeeds (RecursionError propagates)."""
    if raw.count(b"[") + raw.count(b"{") < _DEEP:
        try:
            orjson.loads(raw)
            return True
        except orjson.JSONDecodeError:
            pass
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True
