"""Text masking, a block of whole lines at a time.

A segment is one line; lines the prefilter did not flag are copied as they
are. The one exception is a detector that spans lines (PEM private keys):
its match extends the segment over the following lines. To find the same
match however the input was chunked, a block whose key block might run past
its end is cut before the key's first line and the rest is carried into the
next block (`PEM_WINDOW` bounds how far we ever need to look).

Lines are decoded as UTF-8 with `surrogateescape`, so text in any other
encoding passes through byte-exact outside the spans that are replaced.
"""

from __future__ import annotations

from s3gate.transform.library import PEM_MAX_CHARS
from s3gate.transform.matcher import RunContext, apply, find, scope_pairs

# Bytes from a key block's first line that always hold its whole match.
PEM_WINDOW = 4 * PEM_MAX_CHARS + 256
ENCODING, ERRORS = "utf-8", "surrogateescape"


def detector_hits(ctx: RunContext, hits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(detector index, end offset) for the prefilter hits of detectors."""
    entry_detector = ctx.plan.entry_detector
    out = []
    for entry, end in hits:
        det = entry_detector[entry]
        if det >= 0:
            out.append((det, end))
    return out


def mask_text_block(block: bytes, ctx: RunContext, *, final: bool) -> tuple[bytes, int]:
    """Masked output for `block` (whole lines) and how many input bytes it
    covers; less than `len(block)` when a key block must wait for more input."""
    hits = detector_hits(ctx, ctx.plan.scanner.scan(block))
    if not hits:
        return block, len(block)
    return mask_lines(block, hits, ctx, final=final)


def mask_lines(
    block: bytes, hits: list[tuple[int, int]], ctx: RunContext, *, final: bool
) -> tuple[bytes, int]:
    plan = ctx.plan
    out: list[bytes] = []
    pos = 0  # everything before `pos` is already in `out`
    i, n, size = 0, len(hits), len(block)
    while i < n:
        end = hits[i][1]
        start = block.rfind(b"\n", 0, end - 1) + 1
        if start < pos:  # inside a segment already handled
            i += 1
            continue
        stop = block.find(b"\n", end - 1)
        stop = size if stop < 0 else stop
        dets = set()
        first = i
        while i < n and hits[i][1] - 1 <= stop:
            dets.add(hits[i][0])
            i += 1
        if dets & plan.multiline:
            extended = _multiline_end(block, start, ctx, dets, final=final)
            if extended is None:  # the key block may continue past this block
                out.append(block[pos:start])
                return b"".join(out), start
            stop = max(stop, extended)
            while i < n and hits[i][1] - 1 <= stop:
                dets.add(hits[i][0])
                i += 1
        segment = [(det, end - start) for det, end in hits[first:i]]
        masked = mask_segment(block[start:stop], dets, ctx, segment)
        if masked is not None:
            out.append(block[pos:start])
            out.append(masked)
            pos = stop
    if not out:
        return block, size
    out.append(block[pos:])
    return b"".join(out), size


def mask_segment(
    raw: bytes,
    dets: set[int],
    ctx: RunContext,
    hits: list[tuple[int, int]] | None = None,
) -> bytes | None:
    """One line (or key block) masked with the detectors that hit it; None if
    nothing changed. `hits`: (detector, end) relative to `raw`, where known
    (the detectors then run only around them, `Detector.find_near`)."""
    pairs = scope_pairs(ctx.plan, dets, ctx.plan.root_scope)
    if not pairs:
        return None
    text = raw.decode(ENCODING, ERRORS)
    near: dict[int, list[int]] | None = None
    if hits is not None:
        plain = len(text) == len(raw)  # one character per byte
        near = {}
        for det, end in hits:
            pos = end if plain else len(raw[:end].decode(ENCODING, ERRORS))
            near.setdefault(det, []).append(pos)
    findings = find(text, pairs, None, near)
    if not findings:
        return None
    ctx.summary.records_masked += 1
    new, _ = apply(text, findings, ctx)
    return new.encode(ENCODING, ERRORS)


def _multiline_end(
    block: bytes, start: int, ctx: RunContext, dets: set[int], *, final: bool
) -> int | None:
    """End (line end, bytes) of the segment a multi-line match starting on
    the line at `start` needs; None when the block is too short to know."""
    window = block[start : start + PEM_WINDOW]
    text = window.decode(ENCODING, ERRORS)
    last = -1
    for idx in sorted(dets & ctx.plan.multiline):
        for span in ctx.plan.detectors[idx].detector.find(text):
            last = max(last, span.end)
    if not final and len(window) < PEM_WINDOW and not _closed(text, last):
        return None
    if last <= 0:
        return None if not final and len(window) < PEM_WINDOW else start
    end_byte = start + len(text[:last].encode(ENCODING, ERRORS))
    line_end = block.find(b"\n", end_byte - 1)
    return len(block) if line_end < 0 else line_end


def _closed(text: str, end: int) -> bool:
    """Did the match end on an END line (so more input cannot change it)?"""
    return end > 0 and text[:end].rstrip().endswith("-----")
