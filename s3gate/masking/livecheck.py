"""May a view go to its first reader while it is being made?

A view streamed as it is produced cannot take back bytes already sent. That
is acceptable only when no later refusal could mean "the bytes already sent
must not have been shown"; a refusal for a reason that says nothing about
the bytes already sent (a record over the size limit, a corrupt stream, the
store failing) merely cuts the response short, which the reader sees as a
broken response, never as a complete one (see `masking.live`). So a view is
streamed live only when:

- no profile has a rule that refuses an object for what it contains
  (`block`, `hold`): such a finding in the last record refuses the *whole*
  object, including the records before it, already sent;
- the body's text encoding, as the engine's own decoding decides it from the
  body's head, is ASCII-compatible: for UTF-16, UTF-32, EBCDIC and UTF-7 the
  engine reads its masked output a second time *as raw bytes* and refuses the
  object after its last byte if that reading shows what masking hid
  (`transform.engine`, the encoding-mismatch rule) — bytes sent before that
  check are exactly the ones it exists to stop.

Anything else (an undecided head, a coding nobody here can undo, a decoding
error) answers "not live": the view is built first, as before, and any
refusal is an S3 error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from s3gate.s3.model import Metadata
from s3gate.transform.content import declared
from s3gate.transform.decoding import Decoding
from s3gate.transform.profile import Profile
from s3gate.transform.settings import Limits

# The stored bytes looked at to decide the encoding, at most: the engine
# decides after a few sniff windows (64 KiB each, inside each coding layer).
WATCH_BYTES = 4 * 1024 * 1024


def refusing_rules(profiles: Sequence[Profile]) -> tuple[str, ...]:
    """The ids of the profiles' detectors and field rules that refuse an
    object for its content (`block`, `hold`): any of them rules out a live view."""
    found: list[str] = []
    for profile in profiles:
        for name, use in profile.detectors.items():
            if use.operator.refuses:
                found.append(f"{profile.name}:{name}")
        for rule in profile.rules:
            if rule.operator is not None and rule.operator.refuses:
                found.append(rule.id)
    return tuple(found)


class EncodingWatch:
    """Reads the stored bytes on their way to the masker until the engine's
    decoding (the same class, the same limits) has decided their text
    encoding; then lets them pass untouched. Costs one decoding of the head."""

    def __init__(self, metadata: Metadata, key: str, limits: Limits) -> None:
        info = declared(metadata.get("content-type"), metadata.get("content-encoding"), key)
        self._decoding: Decoding | None = None
        self.failed = bool(info.unsupported)
        if not self.failed:
            try:
                self._decoding = Decoding(
                    info.codings, info.charset, text=info.kind != "binary", limits=limits
                )
            except Exception:  # the masker refuses the same body with its own error
                self.failed = True
        self.decided = False
        self.ascii_compatible = False
        self._seen = 0

    @property
    def live(self) -> bool:
        """The encoding is decided and ASCII-compatible (see the module doc)."""
        return self.decided and self.ascii_compatible and not self.failed

    async def watch(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.feed(chunk)
            yield chunk
        self.end()

    def feed(self, chunk: bytes) -> None:
        if self.decided or self.failed or self._decoding is None:
            return
        self._seen += len(chunk)
        try:
            for _ in self._decoding.feed(chunk):
                self._decide()
                return
        except Exception:  # the masker meets the same problem and refuses
            self.failed = True
            return
        if self._seen > WATCH_BYTES:
            self.failed = True  # undecided this far in: not live

    def end(self) -> None:
        """The whole body was seen: a short body is decided at its end."""
        if self.decided or self.failed or self._decoding is None:
            return
        try:
            for _ in self._decoding.finish():
                break
        except Exception:
            self.failed = True
            return
        self._decide()

    def _decide(self) -> None:
        assert self._decoding is not None
        encoding = self._decoding.encoding
        self.decided = True
        self.ascii_compatible = encoding is None or encoding.ascii_compatible
