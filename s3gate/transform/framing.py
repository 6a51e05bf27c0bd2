"""Stages that cut a byte stream into what the maskers work on.

`LineStage` (JSONL and text) gathers input into blocks of about
`block_bytes` that end at a newline, so a record or line that straddles
chunks is reassembled and the output never depends on how the input was
chunked. A line longer than `max_record_bytes` refuses the object.
`DocumentStage` (JSON) holds one document up to `max_document_bytes`.
`PassStage` copies (binary content a profile lets through).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from s3gate.transform.errors import MaskLimitExceeded
from s3gate.transform.hidden import check_lines
from s3gate.transform.jsoncheck import is_json
from s3gate.transform.jsonl import mask_jsonl_block
from s3gate.transform.jsonvalue import mask_json_value
from s3gate.transform.matcher import RunContext
from s3gate.transform.records import check_document
from s3gate.transform.settings import Limits
from s3gate.transform.text import PEM_WINDOW, detector_hits, mask_text_block


class Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


BlockFn = Callable[[bytes, bool], tuple[bytes, int]]


class LineStage:
    def __init__(self, process: BlockFn, ctx: RunContext, limits: Limits, what: str) -> None:
        self._process = process
        self._ctx = ctx
        self._limits = limits
        self._what = what
        self._buf = bytearray()
        self._need = limits.block_bytes
        self._line = 0  # length of the unfinished line at the end of _buf

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._check(data)
        self._buf += data
        if len(self._buf) >= self._need:
            cut = self._buf.rfind(b"\n") + 1
            if cut:
                yield from self._run(cut, final=False)

    def finish(self) -> Iterator[bytes]:
        while self._buf:
            before = len(self._buf)
            yield from self._run(len(self._buf), final=True)
            if len(self._buf) == before:  # cannot happen; never loop forever
                raise AssertionError("final block not consumed")

    def _run(self, cut: int, *, final: bool) -> Iterator[bytes]:
        block = bytes(self._buf[:cut])
        out, used = self._process(block, final)
        summary = self._ctx.summary
        done = block[:used]
        summary.records += done.count(b"\n")
        if final and used == len(block) and block and not block.endswith(b"\n"):
            summary.records += 1
        del self._buf[:used]
        # A block that had to wait (a key block near its end) waits for more.
        self._need = self._limits.block_bytes if used == cut else len(self._buf) + PEM_WINDOW
        if out:
            yield out

    def _check(self, data: bytes) -> None:
        """Refuse as soon as one line is over the limit (before buffering it)."""
        limit = self._limits.max_record_bytes
        first = data.find(b"\n")
        if first < 0:
            self._line += len(data)
        else:
            if self._line + first > limit:
                self._too_large(limit)
            if len(data) > limit:  # several lines in one large chunk
                for line in data[first + 1 :].split(b"\n")[:-1]:
                    if len(line) > limit:
                        self._too_large(limit)
            self._line = len(data) - data.rfind(b"\n") - 1
        if self._line > limit:
            self._too_large(limit)

    def _too_large(self, limit: int) -> None:
        raise MaskLimitExceeded(self._what, limit, "max_record_bytes")


def jsonl_stage(ctx: RunContext, limits: Limits) -> LineStage:
    """The second reading (`hidden`) is of the masked output: the JSON masker
    undoes one level of escapes itself (a record that is not JSON is read in
    `jsonl._malformed`, before the text masker)."""

    def process(block: bytes, final: bool) -> tuple[bytes, int]:
        out = mask_jsonl_block(block, ctx)
        check_lines(out, ctx.plan, ctx.summary)
        return out, len(block)

    return LineStage(process, ctx, limits, "JSONL record")


def text_stage(ctx: RunContext, limits: Limits, *, hidden: bool = True) -> LineStage:
    """The second reading (`hidden`) is of the input lines: the text masker
    reads them as they are, and masking first could rewrite a piece of the
    hidden value (`u0000@example.com` of `jane.canary\\u0000@example.com`),
    leaving the rest. `hidden=False`: the engine's shadow, which reads the
    encoded output as raw bytes and only counts."""

    def process(block: bytes, final: bool) -> tuple[bytes, int]:
        if hidden:
            check_lines(block, ctx.plan, ctx.summary)
        return mask_text_block(block, ctx, final=final)

    return LineStage(process, ctx, limits, "text line")


class DocumentStage:
    """A JSON document, parsed whole. One that does not parse is masked
    line by line as JSONL (so JSONL saved as `.json` works) and each line
    that is not JSON falls back to text or refuses, as for JSONL."""

    def __init__(self, ctx: RunContext, limits: Limits) -> None:
        self._ctx = ctx
        self._limit = limits.max_document_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if len(self._buf) + len(data) > self._limit:
            raise MaskLimitExceeded("JSON document", self._limit, "max_document_bytes")
        self._buf += data
        return iter(())

    def finish(self) -> Iterator[bytes]:
        doc = bytes(self._buf)
        self._buf = bytearray()
        for out in self._finish(doc):
            check_lines(out, self._ctx.plan, self._ctx.summary)  # see `jsonl_stage`
            yield out

    def _finish(self, doc: bytes) -> Iterator[bytes]:
        ctx = self._ctx
        ctx.summary.records = 1 if doc.strip() else 0
        if not doc.strip():
            yield doc
            return
        if not is_json(doc):
            ctx.summary.records = doc.count(b"\n") + (0 if doc.endswith(b"\n") else 1)
            yield mask_jsonl_block(doc, ctx)
            return
        plan = ctx.plan
        check_document(doc, ctx)  # record rules, before masking
        hits = plan.scanner.scan(doc)
        if not hits and not plan.always_dirty:
            yield doc
            return
        masked = mask_json_value(doc, detector_hits(ctx, hits), ctx)
        if masked is None:
            yield doc
        else:
            ctx.summary.records_masked = 1
            yield masked


class PassStage:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())
