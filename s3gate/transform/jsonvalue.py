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

from s3gate.transform.jsonwalk import JsonMasker, decode_string, encode_string
from s3gate.transform.matcher import RunContext, apply, find, scope_pairs

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def mask_json_value(
    raw: bytes, hits: list[tuple[int, int]], ctx: RunContext, *, structural: bool = True
) -> bytes | None:
    """Mask one valid JSON value; None if unchanged. `structural=False`
    says only detector prefilters hit it (no key names, no escapes), which
    allows the string-only fast path when nothing else needs the structure."""
    if not structural and _fast_path_ok(hits, ctx):
        spans = _strings_with_hits(raw, hits)
        if spans is not None:
            return _mask_strings(raw, spans, ctx)
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
    raw: bytes, spans: list[tuple[int, int, set[int]]], ctx: RunContext
) -> bytes | None:
    plan = ctx.plan
    out: list[bytes] = []
    pos = 0
    for s, e, dets in spans:
        pairs = scope_pairs(plan, dets, plan.root_scope)
        if not pairs:
            continue
        token = raw[s:e]
        text = decode_string(token)
        findings = find(text, pairs)
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
