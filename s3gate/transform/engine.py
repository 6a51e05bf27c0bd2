"""The public streaming API: one `Masker` per request.

    masker = Masker(profiles, content_type=…, content_encoding=…, key=…, limits=…)
    async for piece in masker.transform(body):
        …
    masker.summary  # counts, after the last piece

The output is a function of the input bytes, the profiles (their content)
and the token keys only: not of chunk sizes, timing or replica. Memory is
bounded by the limits whatever the object size. Any error is an S3 error:
refusals (block, hold, binary, malformed JSON) are `AccessDenied`, a record
over the limit is `EntityTooLarge`, undecodable gzip is `InvalidRequest`,
and anything unexpected becomes `InternalError` (fail closed). The caller
must not store or send output of a run that raised.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

from s3gate import errors
from s3gate.transform.content import SNIFF_BYTES, ContentInfo, Kind, declared, sniff
from s3gate.transform.errors import MaskingBlocked, MaskingFailed, MaskingHeld
from s3gate.transform.framing import DocumentStage, PassStage, Stage, jsonl_stage, text_stage
from s3gate.transform.gzipped import GZIP_MAGIC, Gunzip, Gzip
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import Plan, plan_for
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary

log = logging.getLogger("s3gate.transform")
BINARY_RULE = "content:binary"


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
        self.summary = MaskSummary(profiles=self.plan.profile_names, compressed=self.info.gzip)
        self._ctx = RunContext(self.plan, self.summary)

    async def transform(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Masked output, piece by piece. Raises an S3 error on refusal."""
        try:
            pipeline = _Pipeline(self, self.info.gzip)
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
        except Exception as exc:
            # Log the type only: a message could quote content.
            log.error("masking failed: %s", type(exc).__name__)
            raise MaskingFailed() from exc

    def mask_bytes(self, data: bytes) -> bytes:
        """The same masking over a whole body in memory (CLI, tests, checks)."""
        pipeline = _Pipeline(self, self.info.gzip)
        self.summary.bytes_in += len(data)
        out = b"".join([*pipeline.feed(data), *pipeline.finish()])
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
    """gunzip → (sniff) → stage → gzip, all synchronous and bounded."""

    def __init__(self, masker: Masker, gzip: bool) -> None:
        self._masker = masker
        self._gzip = gzip
        self._gunzip = Gunzip(masker.limits.block_bytes) if gzip else None
        self._zip = Gzip() if gzip else None
        self._stage: Stage | None = None
        self._head = bytearray()
        self._first = True

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if self._first and chunk:
            self._first = False
            # Gzip bytes under a plain name and type: decompress them anyway,
            # or they would be judged as "binary".
            if self._gunzip is None and chunk.startswith(GZIP_MAGIC):
                self._gunzip, self._zip = Gunzip(self._masker.limits.block_bytes), Gzip()
                self._masker.summary.compressed = True
        pieces: Iterable[bytes] = self._gunzip.feed(chunk) if self._gunzip else (chunk,)
        for piece in pieces:
            yield from self._compress(self._into_stage(piece))

    def finish(self) -> Iterator[bytes]:
        if self._gunzip is not None:
            for piece in self._gunzip.finish():
                yield from self._compress(self._into_stage(piece))
        if self._stage is None:
            yield from self._compress(self._start(complete=True))
        assert self._stage is not None
        yield from self._compress(self._stage.finish())
        if self._zip is not None:
            yield from self._zip.finish()

    def _into_stage(self, data: bytes) -> Iterator[bytes]:
        if self._stage is not None:
            yield from self._stage.feed(data)
            return
        self._head += data
        if len(self._head) >= SNIFF_BYTES:
            yield from self._start(complete=False)

    def _start(self, *, complete: bool) -> Iterator[bytes]:
        kind = self._masker.info.kind or sniff(bytes(self._head), complete)
        self._stage = self._masker._stage(kind)
        head, self._head = bytes(self._head), bytearray()
        if head:
            yield from self._stage.feed(head)

    def _compress(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        if self._zip is None:
            yield from pieces
            return
        for piece in pieces:
            yield from self._zip.feed(piece)
