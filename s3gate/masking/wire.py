"""What crosses between the gateway process and a masking worker.

Messages are pickled tuples framed like `multiprocessing.Connection`
(a 4-byte big-endian length, then the bytes), so the worker can use a plain
blocking `Connection` while the event loop reads the same socket as an
asyncio stream. Only the gateway's own processes are at either end.

S3 errors cannot be pickled as they are (their constructors take other
arguments than their message), so they travel as class name + attributes and
are rebuilt on the other side; anything that is not an `S3Error` of ours
becomes `InternalError` (fail closed).
"""

from __future__ import annotations

import asyncio
import importlib
import pickle
import struct
from dataclasses import dataclass, fields

from s3gate import errors
from s3gate.transform.summary import MaskSummary

# Open a run: (OPEN, run id, profiles key, pickled profiles or None when the
# worker has them, content type, content encoding, object key, limits). Then
# FEED (run id, bytes) any number of times and FINISH (run id), or ABORT
# (run id) to drop it. PROBE (run id) after a head: may the rest be cut into
# windows? A WINDOW (run id, profiles key, pickled profiles or None, content
# type, content encoding, object key, limits, bytes) is a one-shot run over
# whole records of a plain JSONL body (`WindowRun`).
OPEN, FEED, FINISH, ABORT, WARM = "open", "feed", "finish", "abort", "warm"
PROBE, WINDOW = "probe", "window"
# Replies: READY once at start; OUT (run id, bytes) per FEED; DONE (run id,
# bytes, summary) for FINISH and WINDOW; HELD (run id, bytes, summary, error)
# for a FINISH whose run ends in a hold (the bytes go to quarantine); PLAIN
# (run id, bool) for PROBE; ERROR (run id, error, summary) instead of any.
READY, OUT, DONE, HELD, ERROR, PLAIN = "ready", "out", "done", "held", "error", "plain"
_BIG = 0x7FFFFFFF


@dataclass(frozen=True)
class WireError:
    module: str
    qualname: str
    text: str
    attributes: dict[str, object]


def pack_error(exc: errors.S3Error) -> WireError:
    cls = type(exc)
    return WireError(cls.__module__, cls.__qualname__, str(exc), dict(vars(exc)))


def unpack_error(wire: object) -> errors.S3Error:
    if not isinstance(wire, WireError) or not wire.module.startswith("s3gate."):
        return errors.InternalError()
    try:
        cls = getattr(importlib.import_module(wire.module), wire.qualname)
    except (ImportError, AttributeError):
        return errors.InternalError()
    if not (isinstance(cls, type) and issubclass(cls, errors.S3Error)):
        return errors.InternalError()
    exc = cls.__new__(cls)
    Exception.__init__(exc, wire.text)
    vars(exc).update(wire.attributes)
    return exc


def copy_summary(source: MaskSummary, target: MaskSummary) -> None:
    """The worker's counts into the caller's summary object (callers keep a
    reference to it from before the run). What the caller counted before the
    run — the metadata inspected in the caller's process — is kept and added
    to, as the inline engine adds to the same object."""
    before = (target.detectors, target.rules, target.operators)
    for f in fields(MaskSummary):
        setattr(target, f.name, getattr(source, f.name))
    for mine, theirs in zip(
        before, (target.detectors, target.rules, target.operators), strict=True
    ):
        theirs.update(mine)


def merge_summary(part: MaskSummary, into: MaskSummary) -> None:
    """A window's counts added to the whole object's (parallel windows)."""
    into.detectors.update(part.detectors)
    into.rules.update(part.rules)
    into.operators.update(part.operators)
    into.records += part.records
    into.records_masked += part.records_masked
    into.records_malformed += part.records_malformed
    into.bytes_in += part.bytes_in
    into.bytes_out += part.bytes_out
    into.blocked = tuple(sorted({*into.blocked, *part.blocked}))
    into.held = tuple(sorted({*into.held, *part.held}))


def encode(message: tuple[object, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) > _BIG:
        return struct.pack("!i", -1) + struct.pack("!Q", len(body)) + body
    return struct.pack("!i", len(body)) + body


async def read_message(reader: asyncio.StreamReader) -> tuple[object, ...]:
    """The next message; `asyncio.IncompleteReadError` at end of stream."""
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    message = pickle.loads(await reader.readexactly(size))  # noqa: S301 (our own worker)
    assert isinstance(message, tuple)
    return message
