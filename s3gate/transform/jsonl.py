"""JSONL / NDJSON masking, a block of whole records at a time.

The hot path: one hyperscan scan over the block; records with no prefilter
hit are copied byte-identical without being parsed. A flagged record is
parsed (to confirm it is JSON) and walked; one that does not parse is
masked with the text detectors or refuses the object, as the profile says.
Blank lines pass through. A plan with record rules has every record
judged first (records.py), before masking, and rejected ones left out.
"""

from __future__ import annotations

from s3gate.transform.errors import MaskingBlocked
from s3gate.transform.hidden import check_lines
from s3gate.transform.jsoncheck import is_json
from s3gate.transform.jsonvalue import mask_json_value
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import ENTRY_KEY
from s3gate.transform.records import check_block
from s3gate.transform.text import mask_segment

MALFORMED_RULE = "content:malformed-json"


def mask_jsonl_block(block: bytes, ctx: RunContext) -> bytes:
    plan = ctx.plan
    if plan.record_rules:  # judged before masking; rejected records leave here
        block = check_block(block, ctx)
    if plan.malformed_json == "block":
        _validate_all(block, ctx)
    hits = plan.scanner.scan(block)
    if not hits and not plan.always_dirty:
        return block
    entry_detector = plan.entry_detector
    out: list[bytes] = []
    pos = 0  # block[:pos] is already in `out`
    i, n, size = 0, len(hits), len(block)
    start = 0
    while True:
        if plan.always_dirty:
            if start >= size:
                break
            stop = block.find(b"\n", start)
            stop = size if stop < 0 else stop
        else:
            if i >= n:
                break
            end = hits[i][1]
            start = block.rfind(b"\n", 0, end - 1) + 1
            stop = block.find(b"\n", end - 1)
            stop = size if stop < 0 else stop
        record_hits: list[tuple[int, int]] = []
        structural = plan.always_dirty
        keyed = False
        while i < n and hits[i][1] - 1 <= stop:
            det = entry_detector[hits[i][0]]
            if det >= 0:
                record_hits.append((det, hits[i][1] - start))
            elif det == ENTRY_KEY:
                keyed = True
            else:
                structural = True
            i += 1
        masked = mask_record(
            block[start:stop], record_hits, ctx, structural=structural, keyed=keyed
        )
        if masked is not None:
            out.append(block[pos:start])
            out.append(masked)
            pos = stop
        start = stop + 1
    if not out:
        return block
    out.append(block[pos:])
    return b"".join(out)


def mask_record(
    record: bytes,
    hits: list[tuple[int, int]],
    ctx: RunContext,
    *,
    structural: bool = True,
    keyed: bool = False,
) -> bytes | None:
    """One record masked, or None if unchanged. `hits` are (detector, end)
    with ends relative to the record; `keyed`: a key-held-secret prefilter
    hit it (and `structural` is False unless something else did)."""
    if not record.strip():
        return None
    if not is_json(record):
        return _malformed(record, hits, ctx)
    masked = mask_json_value(record, hits, ctx, structural=structural, keyed=keyed)
    if masked is not None:
        ctx.summary.records_masked += 1
    return masked


def _malformed(record: bytes, hits: list[tuple[int, int]], ctx: RunContext) -> bytes | None:
    if ctx.plan.malformed_json == "block":
        ctx.summary.blocked = (MALFORMED_RULE,)
        raise MaskingBlocked([MALFORMED_RULE])
    ctx.summary.records_malformed += 1
    check_lines(record, ctx.plan, ctx.summary)  # read as text: see `framing.text_stage`
    return mask_segment(record, {det for det, _ in hits}, ctx)


def _validate_all(block: bytes, ctx: RunContext) -> None:
    """Profiles that refuse malformed JSON check every record, hit or not."""
    for line in block.split(b"\n"):
        if line.strip() and not is_json(line):
            ctx.summary.blocked = (MALFORMED_RULE,)
            raise MaskingBlocked([MALFORMED_RULE])
