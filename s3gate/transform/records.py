"""Record rules applied to the records of one masking run, before masking.

`check_block` takes a block of whole JSONL records (as `jsonl` masks them)
and returns it without the records a `reject_record` rule rejects; a
`block` rule refuses the object at once (MaskingBlocked); a `hold` rule
marks the run held (the engine raises MaskingHeld after the last byte, the
same path as the `hold` operator). `check_document` judges a JSON document,
the one record of its object. The actions combine, strongest first:

- any `block` rule broken by any record refuses the object;
- a record any `reject_record` rule rejects is left out (counted under
  every such rule it breaks), even when a `hold` rule also matched it;
- any `hold` rule broken holds the object, with the records left.

Blank lines are not records: they pass, as they do through the masker.
"""

from __future__ import annotations

from s3gate.transform.errors import MaskingBlocked
from s3gate.transform.matcher import RunContext
from s3gate.transform.recordrules import RecordRule, parse_record

# Line numbers kept per rule for `s3gate mask --explain` (counts go on).
MAX_LINES = 1000


def check_block(block: bytes, ctx: RunContext) -> bytes:
    """`block` without its rejected records. Line numbers count from the
    first line the run's rules saw (`ctx.lines_checked`)."""
    rules = ctx.plan.record_rules
    if not rules or not block:
        return block
    pieces = block.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()  # the block ends with a newline: no partial last line
        ended = True
    else:
        ended = False
    base = ctx.lines_checked
    ctx.lines_checked += len(pieces)
    kept: list[bytes] = []
    dropped = False
    last = len(pieces) - 1
    for i, line in enumerate(pieces):
        newline = b"\n" if i < last or ended else b""
        if line.strip() and not _keep(line, rules, ctx, base + i + 1):
            dropped = True
            continue
        kept.append(line + newline)
    return b"".join(kept) if dropped else block


def check_document(doc: bytes, ctx: RunContext) -> None:
    """A JSON document is its object's only record: a `reject_record` rule
    that rejects it refuses the object as `block` does (leaving the record
    out would store an empty body, which is no JSON document)."""
    rules = ctx.plan.record_rules
    if not rules:
        return
    broken = _broken(doc, rules)
    ctx.lines_checked += 1
    _refuse(ctx, [r for r in broken if r.action != "hold"])
    ctx.held.update(r.id for r in broken if r.action == "hold")


def _keep(line: bytes, rules: tuple[RecordRule, ...], ctx: RunContext, number: int) -> bool:
    broken = _broken(line, rules)
    if not broken:
        return True
    _refuse(ctx, [r for r in broken if r.action == "block"])
    ctx.held.update(r.id for r in broken if r.action == "hold")
    rejecting = [r for r in broken if r.action == "reject_record"]
    if not rejecting:
        return True
    summary = ctx.summary
    summary.records_rejected += 1
    for rule in rejecting:
        summary.rejected[rule.id] += 1
        lines = summary.rejected_lines.setdefault(rule.id, [])
        if len(lines) < MAX_LINES:
            lines.append(number)
    return False


def _broken(record: bytes, rules: tuple[RecordRule, ...]) -> list[RecordRule]:
    value = parse_record(record)
    return [rule for rule in rules if rule.violated_by(value, record)]


def _refuse(ctx: RunContext, rules: list[RecordRule]) -> None:
    if rules:
        ids = sorted({r.id for r in rules})
        ctx.summary.blocked = tuple(ids)
        raise MaskingBlocked(ids)
