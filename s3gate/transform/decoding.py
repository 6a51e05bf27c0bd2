"""Inspect or refuse: the one place that turns a body's bytes into text the
detectors can read, and the masked text back into bytes of the same form.

    bytes ─▶ declared codings (Content-Encoding, outer first)
          ─▶ sniffed codings (magic bytes, however the body is chunked; again
             inside each layer, up to `max_coding_layers` in all)
          ─▶ text encoding (byte-order mark, charset=, zero-byte pattern)
          ─▶ UTF-8 for the masker

`encoder()` is the way back: the masked UTF-8 is encoded in the body's own
text encoding and compressed with the same codings, innermost first, so the
stored object keeps its Content-Type and Content-Encoding.

Every layer's output is counted against `max_inflated_bytes` and, beyond the
first `RATIO_FLOOR` bytes, against `max_inflation_ratio` times the bytes that
came in: a decompression bomb is refused after a few megabytes of work, not
after gigabytes. Decisions are taken before the first byte goes on (a sniff
waits for enough bytes or the end of the body), so chunking never changes
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from s3gate.transform import charset as cs
from s3gate.transform.compression import CODINGS, SNIFF_CODING_BYTES, Coder, sniff_coding
from s3gate.transform.errors import CodingTooDeep, InflationLimitExceeded
from s3gate.transform.settings import Limits

MiB = 1024 * 1024
RATIO_FLOOR = 1 * MiB  # small bodies may inflate by any ratio
IN_SLICE = 8 * 1024


class Decoding:
    def __init__(
        self,
        codings: tuple[str, ...],
        charset: str | None,
        *,
        text: bool,
        limits: Limits,
        shadow: Callable[[], Coder] | None = None,
    ) -> None:
        """`codings` outer first (Content-Encoding lists them innermost
        first); each must be in CODINGS. `text`: the content may be text
        (declared binary types skip the text-encoding step). `shadow`: a
        stage that also reads the bytes going out, as they are, when the body
        was transcoded from an encoding in which ASCII looks different
        (UTF-16, UTF-32, EBCDIC, UTF-7), so the caller can refuse a body
        that would show a reader who ignores the encoding what the masked
        text no longer shows (UTF-8 bytes labelled UTF-16)."""
        self._limits = limits
        self._charset = charset
        self._text = text
        self.codings: list[str] = []
        self._layers: list[Coder] = []
        self._outputs: list[int] = []
        if len(codings) > limits.max_coding_layers:
            raise CodingTooDeep(limits.max_coding_layers)
        for name in codings:
            self._push(name)
        self._bytes_in = 0
        self._head = bytearray()
        self._decided = False
        self.encoding: cs.TextEncoding | None = None
        self._decode: cs.Decode | None = None
        self._make_shadow = shadow

    # -- the way in -------------------------------------------------------

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if not self._layers:
            self._bytes_in += len(chunk)
            yield from self._inner(chunk)
            return
        # In slices, so that the bytes counted in are close to the bytes the
        # decoder has consumed when the ratio is checked (a 1 MiB chunk of a
        # 1000:1 bomb must not count as 1 MiB in before it is inflated).
        for start in range(0, len(chunk), IN_SLICE):
            piece = chunk[start : start + IN_SLICE]
            self._bytes_in += len(piece)
            for out in self._through(0, piece):
                yield from self._inner(out)

    def finish(self) -> Iterator[bytes]:
        done = 0
        while True:
            while done < len(self._layers):
                for out in self._layers[done].finish():
                    self._count(done, out)
                    for piece in self._through(done + 1, out):
                        yield from self._inner(piece)
                done += 1
            if self._decided:
                break
            yield from self._decide(complete=True)  # may push one more layer
        if self._decode is not None:
            yield from self._decode.finish()

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        """`data` through the layers from `index` inward."""
        if index == len(self._layers):
            if data:
                yield data
            return
        for out in self._layers[index].feed(data):
            self._count(index, out)
            yield from self._through(index + 1, out)

    def _inner(self, data: bytes) -> Iterator[bytes]:
        """Innermost output: held until the sniffs decide, then decoded."""
        if self._decided:
            yield from self._text_out(data)
            return
        self._head += data
        if len(self._head) >= SNIFF_CODING_BYTES:
            yield from self._decide(complete=False)

    def _decide(self, *, complete: bool) -> Iterator[bytes]:
        head, self._head = bytes(self._head), bytearray()
        coding = sniff_coding(head, complete)
        if coding is not None:
            if len(self._layers) >= self._limits.max_coding_layers:
                raise CodingTooDeep(self._limits.max_coding_layers)
            self._push(coding)
            for piece in self._through(len(self._layers) - 1, head):
                yield from self._inner(piece)
            return
        self._decided = True
        if self._text:
            self.encoding = cs.detect(head, self._charset)
        if self.encoding is not None:
            head = head[len(self.encoding.bom) :]
            self._decode = cs.Decode(self.encoding)
        yield from self._text_out(head)

    def _text_out(self, data: bytes) -> Iterator[bytes]:
        if self._decode is None:
            if data:
                yield data
        else:
            yield from self._decode.feed(data)

    def _push(self, name: str) -> None:
        self.codings.append(name)
        self._layers.append(CODINGS[name][0](self._limits.block_bytes))
        self._outputs.append(0)

    def _count(self, index: int, out: bytes) -> None:
        total = self._outputs[index] = self._outputs[index] + len(out)
        limits = self._limits
        if total > limits.max_inflated_bytes:
            raise InflationLimitExceeded(f"{limits.max_inflated_bytes} bytes", "max_inflated_bytes")
        if total > RATIO_FLOOR and total > limits.max_inflation_ratio * max(self._bytes_in, 1):
            ratio = limits.max_inflation_ratio
            raise InflationLimitExceeded(f"{ratio} times its size", "max_inflation_ratio")

    # -- the way out ------------------------------------------------------

    def encoder(self) -> Encoding:
        """The way back, once the decisions are taken (before any output)."""
        if not self._decided:
            raise AssertionError("encoder() before the body's form was decided")
        shadow = None
        if self.encoding is not None and not self.encoding.ascii_compatible:
            shadow = self._make_shadow() if self._make_shadow is not None else None
        return Encoding(self.encoding, self.codings, shadow)


class Encoding:
    """Masked UTF-8 → the body's text encoding → its codings, inner first."""

    def __init__(
        self,
        encoding: cs.TextEncoding | None,
        codings: list[str],
        shadow: Coder | None = None,
    ) -> None:
        self._stages: list[Coder] = [CODINGS[name][1]() for name in reversed(codings)]
        self._shadow = shadow  # reads what the text encoder writes
        if encoding is not None:
            self._stages.insert(0, cs.Encode(encoding))

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield from self._run(0, data)

    def finish(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for out in stage.finish():
                yield from self._run(index + 1, out)
        if self._shadow is not None:
            for _ in self._shadow.finish():
                pass

    def _run(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == 1 and self._shadow is not None:
            for _ in self._shadow.feed(data):
                pass
        if index == len(self._stages):
            if data:
                yield data
            return
        for out in self._stages[index].feed(data):
            yield from self._run(index + 1, out)
