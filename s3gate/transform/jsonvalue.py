"""The entry point for one JSON value, and its fast path.

A record that only detector prefilters flagged (no key name, no escape that
could hide text), under a plan without `keep` or detector-scoped field rules,
needs no structure: each string holding a hit is decoded, masked and
re-encoded in place, and the rest is copied. Anything else (a hit outside a
string, a `drop`, a detector using key context) takes the full walk in
`jsonwalk`, so both paths always give the same bytes.
"""

from __future__ import annotations

import re

from s3gate.transform.fields import State
from s3gate.transform.jsonwalk import (
    _SUSPICIOUS,
    JsonMasker,
    _Frame,
    decode_string,
    encode_string,
)
from s3gate.transform.matcher import RunContext, apply, find, scope_pairs, string_positions

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# A string, and the colon that makes it a member's key (valid JSON only).
_MEMBER = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(?:[ \t\r\n]*(:)[ \t\r\n]*)?')
# A scalar that is not a string (number, true, false, null).
_BARE = re.compile(rb'[^\s{}\[\],:"]+')
# Distinct keys remembered per run (memory stays bounded on any input).
KEY_CACHE = 4096


def mask_json_value(
    raw: bytes,
    hits: list[tuple[int, int]],
    ctx: RunContext,
    *,
    structural: bool = True,
    keyed: bool = False,
) -> bytes | None:
    """Mask one valid JSON value; None if unchanged. `structural=False`
    says only detector prefilters hit it (no key names, no escapes), which
    allows the string-only fast path when nothing else needs the structure;
    `keyed` that a key-held-secret prefilter hit it too (the keyed path)."""
    if not structural and _fast_path_ok(hits, ctx):
        if keyed:
            if ctx.plan.keyed_fast_path:
                return _mask_keyed(raw, hits, ctx)
        else:
            spans = _strings_with_hits(raw, hits)
            if spans is not None:
                return _mask_strings(raw, spans, hits, ctx)
    return JsonMasker(raw, hits, ctx).run()


def _fast_path_ok(hits: list[tuple[int, int]], ctx: RunContext) -> bool:
    """The walk only changes the outcome through field rules, key context,
    or `drop` (which removes members): none of them may be in play."""
    plan = ctx.plan
    if not plan.string_only:
        return False
    for det, _ in hits:
        bound = plan.detectors[det]
        if bound.operator.kind == "drop" or bound.detector.spec.context:
            return False
    return True


def _strings_with_hits(
    raw: bytes, hits: list[tuple[int, int]]
) -> list[tuple[int, int, set[int]]] | None:
    """(start, end, detectors) of each string holding a hit; None if a hit
    ends outside every string (in a number, say)."""
    if b"\\\\" not in raw:
        return _strings_by_quotes(raw, hits)
    return _strings_in_order(raw, hits)


def _strings_by_quotes(
    raw: bytes, hits: list[tuple[int, int]]
) -> list[tuple[int, int, set[int]]] | None:
    """`_strings_with_hits` for a valid JSON value with no escaped backslash,
    where a quote is escaped exactly when a backslash precedes it: the
    string holding each hit's last byte is found by counting quotes (in C)
    from the end of the previous one, not by visiting every string before
    it (a trace record holds a hundred; its hits sit in a few)."""
    spans: list[tuple[int, int, set[int]]] = []
    i, n = 0, len(hits)
    pos = 0  # outside every string: 0, or just after a string's closing quote
    while i < n:
        last = hits[i][1] - 1  # the hit's last byte
        if last >= len(raw):  # on the delimiter after the value (a number's)
            return None
        quotes = raw.count(b'"', pos, last) - raw.count(b'\\"', pos, last)
        if quotes % 2:  # inside a string: it opened at the last bare quote
            s = raw.rindex(b'"', pos, last)
            while s > pos and raw[s - 1] == 0x5C:  # a backslash: escaped
                s = raw.rindex(b'"', pos, s)
        elif raw[last] == 0x22:  # on an opening quote
            s = last
        else:
            return None  # outside every string
        m = _STRING.match(raw, s)
        assert m is not None  # valid JSON: every string closes
        e = m.end()
        dets = set()
        while i < n and hits[i][1] <= e:
            dets.add(hits[i][0])
            i += 1
        spans.append((s, e, dets))
        pos = e
    return spans


def _strings_in_order(
    raw: bytes, hits: list[tuple[int, int]]
) -> list[tuple[int, int, set[int]]] | None:
    spans: list[tuple[int, int, set[int]]] = []
    i, n = 0, len(hits)
    for m in _STRING.finditer(raw):
        s, e = m.span()
        if hits[i][1] <= s:
            return None
        if hits[i][1] > e:
            continue
        dets = set()
        while i < n and hits[i][1] <= e:
            dets.add(hits[i][0])
            i += 1
        spans.append((s, e, dets))
        if i >= n:
            return spans
    return None


def _mask_strings(
    raw: bytes,
    spans: list[tuple[int, int, set[int]]],
    hits: list[tuple[int, int]],
    ctx: RunContext,
) -> bytes | None:
    plan = ctx.plan
    out: list[bytes] = []
    pos = 0
    i, n = 0, len(hits)
    for s, e, dets in spans:
        # This string's hits (spans and hits are both in offset order).
        while i < n and hits[i][1] <= s:
            i += 1
        first = i
        while i < n and hits[i][1] <= e:
            i += 1
        pairs = scope_pairs(plan, dets, plan.root_scope)
        if not pairs:
            continue
        token = raw[s:e]
        text = decode_string(token)
        near = string_positions(token, [(d, end - s) for d, end in hits[first:i]])
        findings = find(text, pairs, None, near)
        if not findings:
            continue
        new, _ = apply(text, findings, ctx)
        out.append(raw[pos:s])
        out.append(encode_string(new, token))
        pos = e
    if not out:
        return None
    out.append(raw[pos:])
    return b"".join(out)


def _mask_keyed(raw: bytes, hits: list[tuple[int, int]], ctx: RunContext) -> bytes | None:
    """The walk's output for a record that only detector prefilters and
    key-held-secret prefilters (`"authorization":`) flagged, without the
    walk's path and frame bookkeeping.

    Under `Plan.keyed_fast_path` no field rule can apply to a record no
    rule prefilter flagged (their keys are plain ASCII, so a key that
    matches one shows in the raw bytes, unless it is written with an
    escape: such a record takes the walk), so the walk's scope is the root
    scope at every depth and its selector state accepts nothing. What is
    left of the walk is what this does, with the walk's own methods, in
    document order (so counts and the first refusal are the same): each key
    masked by the detectors that hit it, each scalar value chosen for
    (key-held secrets, numbers under keys that name them) or masked."""
    plan = ctx.plan
    strings: list[tuple[int, int, int]] = []  # (start, end, value start or -1)
    i, n = 0, len(hits)
    for m in _MEMBER.finditer(raw):
        s = m.start()
        if i < n and hits[i][1] <= s:
            return JsonMasker(raw, hits, ctx).run()  # a hit outside every string
        colon = m.start(1)
        e = m.end() if colon < 0 else raw.rindex(b'"', s, colon) + 1
        while i < n and hits[i][1] <= e:
            i += 1
        if colon >= 0 and plan.rules and (b"\\" in raw[s:e] or not raw[s:e].isascii()):
            return JsonMasker(raw, hits, ctx).run()  # a key a rule might match
        strings.append((s, e, m.end() if colon >= 0 else -1))
    if i < n:
        return JsonMasker(raw, hits, ctx).run()
    walk = JsonMasker(raw, hits, ctx)
    scope = plan.root_scope
    nothing: State = frozenset()
    frame = _Frame(True, nothing, scope)
    key: str | None = None  # the key whose value is the next string
    j = 0  # hits[:j] end at or before the current string
    # A string or scalar with no hit, no escape that could hide text and no
    # key a key-held detector names is left as it is by the walk's methods:
    # they are not called for it (most members of a flagged record).
    for s, e, value in strings:
        while j < n and hits[j][1] <= s:
            j += 1
        quiet = not (j < n and hits[j][1] <= e) and not _suspicious(raw, s, e)
        if value < 0:
            if not quiet or (key is not None and _key_matters(ctx, key)):
                walk._value(s, e, 0x22, nothing, scope, key, None)
            key = None
            continue
        name: str | None
        if quiet:
            name = _key_name(ctx, raw[s:e])
        else:
            frame.key, frame.dropping = None, False
            walk._key(frame, s, e)
            name = frame.key
        c = raw[value]
        if c == 0x22:  # a string: the next one
            key = name
        elif c not in b"{[":
            bare = _BARE.match(raw, value)
            assert bare is not None
            k = j
            while k < n and hits[k][1] <= value:
                k += 1
            # A number's hit may end on the byte after it (`_candidates`).
            if (k < n and hits[k][1] <= bare.end() + 1) or _key_matters(ctx, name):
                walk._value(value, bare.end(), c, nothing, scope, name, None)
    return walk._splice() if walk.edits else None


def _suspicious(raw: bytes, s: int, e: int) -> bool:
    """Does the string hold an escape that could hide text (`_candidates`
    then runs every detector on it)?"""
    return raw.find(b"\\", s, e) >= 0 and _SUSPICIOUS.search(raw, s, e) is not None


def _key_name(ctx: RunContext, token: bytes) -> str:
    """A key's decoded name, cached per run (trace records repeat their keys)."""
    name = ctx.key_names.get(token)
    if name is None:
        name = decode_string(token)
        if len(ctx.key_names) < KEY_CACHE:
            ctx.key_names[token] = name
    return name


def _key_matters(ctx: RunContext, key: str | None) -> bool:
    """Could a detector in the root scope choose a value for this key
    (key-held secrets, numbers under keys that name them)?"""
    if key is None:
        return False
    known = ctx.key_matters.get(key)
    if known is None:
        plan = ctx.plan
        scope = plan.root_scope
        known = any(
            (rx := plan.detectors[i].detector.json_key) is not None and rx.search(key) is not None
            for i in plan.json_key_detectors
            if i in scope
        ) or any(
            (rx := plan.detectors[i].detector.number_key) is not None and rx.search(key) is not None
            for i in plan.number_key_detectors
            if i in scope
        )
        if len(ctx.key_matters) < KEY_CACHE:
            ctx.key_matters[key] = known
    return known
