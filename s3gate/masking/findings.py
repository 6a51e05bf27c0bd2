"""What the profiles find in short texts that cannot be rewritten (header
values, metadata names, tag keys): the rule ids, counted in the run's
summary. Shared by the metadata and the tag inspections, so that both refuse
on exactly the same findings."""

from __future__ import annotations

from collections.abc import Iterable

from s3gate.transform.matcher import RunContext, find, scope_pairs
from s3gate.transform.text import detector_hits

UNINSPECTABLE = "\x00uninspectable"


def rule_findings(ctx: RunContext, texts: Iterable[str]) -> tuple[str, ...]:
    """Rule ids of what the profiles find in any of `texts` (raises on
    block; holds are left in `ctx.held`). `UNINSPECTABLE` stands for a text
    that could not be read and counts as a finding."""
    plan = ctx.plan
    found: set[str] = set()
    for text in texts:
        if text == UNINSPECTABLE:
            found.add("content:uninspectable")
            continue
        raw = text.encode("utf-8", "surrogatepass")
        dets = {d for d, _ in detector_hits(ctx, plan.scanner.scan(raw))}
        pairs = scope_pairs(plan, dets, plan.root_scope)
        for f in find(text, pairs) if pairs else []:
            ctx.count(f.bound.detector.id, f.operator, refusal=f.bound.refusal_id)
            found.add(f.bound.refusal_id)
    return tuple(sorted(found))
