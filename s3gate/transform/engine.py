"""The public streaming API: one `Masker` per request.

    masker = Masker(profiles, content_type=…, content_encoding=…, key=…, limits=…)
    async for piece in masker.transform(body):
        …
    masker.summary  # counts, after the last piece

The output is a function of the input bytes, the profiles (their content)
and the token keys only: not of chunk sizes, timing or replica. Memory is
bounded by the limits whatever the object size. Any error is an S3 error:
refusals (block, hold, binary, malformed JSON) are `AccessDenied`, a record
over the limit is `EntityTooLarge` (so is a body that inflates past the
limits), a body that does not decode as it declares or shows (corrupt
compression, invalid text in its encoding under a profile that lets binary
pass) is `InvalidRequest`, a coding the gateway cannot undo is
`InvalidArgument`, and anything unexpected becomes `InternalError` (fail
closed). What turns bytes into inspectable text is `decoding`. The caller
must not store or send output of a run that raised.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence

from s3gate import errors
from s3gate.transform.charset import Decode, NotText, TextEncoding
from s3gate.transform.compression import CODINGS
from s3gate.transform.content import SNIFF_BYTES, ContentInfo, Kind, declared, sniff
from s3gate.transform.decoding import Decoding, Encoding
from s3gate.transform.errors import (
    MaskingBlocked,
    MaskingFailed,
    MaskingHeld,
    NestedTooDeep,
    UnsupportedCoding,
)
from s3gate.transform.framing import DocumentStage, PassStage, Stage, jsonl_stage, text_stage
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import Plan, plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary

log = logging.getLogger("s3gate.transform")
BINARY_RULE = "content:binary"
MISMATCH_RULE = "content:encoding-mismatch"


class Masker:
    def __init__(
        self,
        profiles: Sequence[Profile],
        *,
        content_type: str | None,
        content_encoding: str | None,
        key: str,
        limits: Limits,
    ) -> None:
        self.plan: Plan = plan_for(profiles)
        self.limits = limits
        self.info: ContentInfo = declared(content_type, content_encoding, key)
        self.summary = MaskSummary(profiles=self.plan.profile_names)
        self._ctx = RunContext(self.plan, self.summary)

    async def transform(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Masked output, piece by piece. Raises an S3 error on refusal."""
        try:
            pipeline = _Pipeline(self)
            async for chunk in chunks:
                self.summary.bytes_in += len(chunk)
                for out in pipeline.feed(chunk):
                    self.summary.bytes_out += len(out)
                    yield out
            for out in pipeline.finish():
                self.summary.bytes_out += len(out)
                yield out
            if self._ctx.held:
                self.summary.held = tuple(sorted(self._ctx.held))
                raise MaskingHeld(self._ctx.held)
            self.summary.complete = True
        except errors.S3Error:
            raise
        except RecursionError:
            raise NestedTooDeep() from None
        except Exception as exc:
            # Log the type only: a message could quote content.
            log.error("masking failed: %s", type(exc).__name__)
            raise MaskingFailed() from exc

    def mask_bytes(self, data: bytes) -> bytes:
        """The same masking over a whole body in memory (CLI, tests, checks)."""
        pipeline = _Pipeline(self)
        self.summary.bytes_in += len(data)
        try:
            out = b"".join([*pipeline.feed(data), *pipeline.finish()])
        except RecursionError:
            raise NestedTooDeep() from None
        self.summary.bytes_out += len(out)
        if self._ctx.held:
            self.summary.held = tuple(sorted(self._ctx.held))
            raise MaskingHeld(self._ctx.held)
        self.summary.complete = True
        return out

    def _stage(self, kind: Kind) -> Stage:
        self.summary.content_kind = kind
        if kind == "jsonl":
            return jsonl_stage(self._ctx, self.limits)
        if kind == "json":
            return DocumentStage(self._ctx, self.limits)
        if kind == "text":
            return text_stage(self._ctx, self.limits)
        if self.plan.binary == "pass":
            return PassStage()
        self.summary.blocked = (BINARY_RULE,)
        raise MaskingBlocked([BINARY_RULE])


class _Pipeline:
    """decode (codings, text encoding) → (sniff) → stage → encode back,
    all synchronous and bounded."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        info = masker.info
        self._raw = bool(info.unsupported)
        if self._raw:
            # A coding nobody here can undo: the bytes cannot be inspected.
            if masker.plan.binary != "pass":
                raise UnsupportedCoding(info.unsupported[0], CODINGS)
            self._decoding: Decoding | None = None
        else:
            self._decoding = Decoding(
                info.codings,
                info.charset,
                text=info.kind != "binary",
                limits=masker.limits,
                shadow=self._shadow_stage,
            )
        self._shadow: RunContext | None = None
        self._encoding: Encoding | None = None
        self._stage: Stage | None = None
        # Text read as it is must be UTF-8 all through (see `_start`).
        self._utf8: Decode | None = None
        self._head = bytearray()

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if self._decoding is None:
            yield from self._raw_stage().feed(chunk)
            return
        for piece in self._decoded(self._decoding.feed(chunk)):
            yield from self._encode(self._into_stage(piece))

    def finish(self) -> Iterator[bytes]:
        if self._decoding is None:
            yield from self._raw_stage().finish()
            return
        for piece in self._decoded(self._decoding.finish()):
            yield from self._encode(self._into_stage(piece))
        if self._stage is None:
            yield from self._encode(self._start(complete=True))
        assert self._stage is not None
        if self._utf8 is not None:
            list(self._decoded(self._utf8.finish()))
        yield from self._encode(self._stage.finish())
        last = list(self._encoder().finish())
        if self._shadow is not None and self._shadow.summary.replacements:
            # Read as bytes, the output shows what its declared encoding hides.
            self._masker.summary.blocked = (MISMATCH_RULE,)
            raise MaskingBlocked([MISMATCH_RULE])
        yield from last

    def _shadow_stage(self) -> Stage:
        """The text masker over the bytes going out, read as they are; its
        output is discarded, only its counts matter (see `Decoding`)."""
        self._shadow = RunContext(self._masker.plan, MaskSummary())
        return text_stage(self._shadow, self._masker.limits, hidden=False)

    def _raw_stage(self) -> Stage:
        if self._stage is None:
            self._masker.summary.codings = self._masker.info.codings
            self._stage = self._masker._stage("binary")
        return self._stage

    def _decoded(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Bytes that are not text in their own encoding follow the binary rule."""
        try:
            yield from pieces
        except NotText:
            if self._masker.plan.binary != "pass":
                self._masker.summary.blocked = (BINARY_RULE,)
                raise MaskingBlocked([BINARY_RULE]) from None
            raise

    def _into_stage(self, data: bytes) -> Iterator[bytes]:
        if self._stage is not None:
            if self._utf8 is not None:
                list(self._decoded(self._utf8.feed(data)))
            yield from self._stage.feed(data)
            return
        self._head += data
        if len(self._head) >= SNIFF_BYTES:
            yield from self._start(complete=False)

    def _start(self, *, complete: bool) -> Iterator[bytes]:
        kind = self._masker.info.kind or sniff(bytes(self._head), complete)
        summary = self._masker.summary
        assert self._decoding is not None
        summary.codings = tuple(self._decoding.codings)
        summary.compressed = bool(summary.codings)
        encoding = self._decoding.encoding
        summary.charset = "" if encoding is None else encoding.codec
        self._stage = self._masker._stage(kind)
        head, self._head = bytes(self._head), bytearray()
        if kind != "binary" and encoding is None:
            # A body declared (or sniffed) as text with no other encoding is
            # UTF-8: bytes that are not follow the binary rule, wherever they
            # are, instead of slipping past detectors that read UTF-8.
            self._utf8 = Decode(TextEncoding("utf-8"))
            list(self._decoded(self._utf8.feed(head)))
        if head:
            yield from self._stage.feed(head)

    def _encoder(self) -> Encoding:
        if self._encoding is None:
            assert self._decoding is not None
            self._encoding = self._decoding.encoder()
        return self._encoding

    def _encode(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self._encoder().feed(piece)


class MaskRun:
    """The synchronous steps of `Masker.transform` for a worker process:
    `feed` each chunk, then `finish` once. Same output, counts and errors as
    `transform` (any non-S3 error becomes `MaskingFailed`); after an error the
    run is dead."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pipeline: _Pipeline | None = None
        self.last: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        return self._guard(lambda: self._step(chunk))

    def finish(self) -> list[bytes]:
        return self._guard(self._end)

    def _step(self, chunk: bytes) -> list[bytes]:
        masker = self._masker
        if self._pipeline is None:
            self._pipeline = _Pipeline(masker)
        masker.summary.bytes_in += len(chunk)
        out = list(self._pipeline.feed(chunk))
        masker.summary.bytes_out += sum(len(piece) for piece in out)
        return out

    def plain_jsonl(self) -> bool:
        """After a head of at least `SNIFF_BYTES`: is this body JSONL in
        UTF-8 with no content coding, no byte-order mark and no other
        encoding? Then its later records may be masked apart (`WindowRun`).
        Not under record rules: they number records from the object's first
        line, which a window does not know."""
        pipe = self._pipeline
        return (
            not self._masker.plan.record_rules
            and pipe is not None
            and pipe._decoding is not None
            and pipe._stage is not None
            and self._masker.summary.content_kind == "jsonl"
            and not pipe._decoding.codings
            and pipe._decoding.encoding is None
            and pipe._utf8 is not None
        )

    def _end(self) -> list[bytes]:
        masker = self._masker
        if self._pipeline is None:
            self._pipeline = _Pipeline(masker)
        out = list(self._pipeline.finish())
        masker.summary.bytes_out += sum(len(piece) for piece in out)
        self.last = out  # a held run's output goes to quarantine
        if masker._ctx.held:
            masker.summary.held = tuple(sorted(masker._ctx.held))
            raise MaskingHeld(masker._ctx.held)
        masker.summary.complete = True
        return out

    @staticmethod
    def _guard(step: Callable[[], list[bytes]]) -> list[bytes]:
        try:
            return step()
        except errors.S3Error:
            raise
        except RecursionError:
            raise NestedTooDeep() from None
        except Exception as exc:
            log.error("masking failed: %s", type(exc).__name__)
            raise MaskingFailed() from exc


class WindowRun:
    """Whole records of a body that `MaskRun.plain_jsonl` found plain, cut
    after a newline by the masking pool so that several workers mask one
    object: each record is masked exactly as in the body's own run (same
    stage, same UTF-8 check). Holds are counted in `summary.held`, not
    raised: the whole body decides, after its last window."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker

    def run(self, window: bytes) -> bytes:
        masker = self._masker
        masker.summary.bytes_in += len(window)
        try:
            stage = masker._stage("jsonl")
            utf8 = Decode(TextEncoding("utf-8"))
            try:
                list(utf8.feed(window))
                list(utf8.finish())
            except NotText:
                if masker.plan.binary != "pass":
                    masker.summary.blocked = (BINARY_RULE,)
                    raise MaskingBlocked([BINARY_RULE]) from None
                raise
            out = b"".join([*stage.feed(window), *stage.finish()])
        except errors.S3Error:
            raise
        except RecursionError:
            raise NestedTooDeep() from None
        except Exception as exc:
            log.error("masking failed: %s", type(exc).__name__)
            raise MaskingFailed() from exc
        masker.summary.bytes_out += len(out)
        masker.summary.held = tuple(sorted(masker._ctx.held))
        return out
