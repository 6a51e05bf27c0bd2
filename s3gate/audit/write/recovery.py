"""Spool recovery at start-up: what a crash left in the segment files.

Segments wholly before the shipped position are deleted (they were shipped;
the crash came before their removal). In the others, every complete frame
after the shipped position is kept; a torn tail is cut off so new frames never
follow it; damaged frames in the middle are left in place (readers skip them)
and reported. Blocking; run in a worker thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from s3gate.audit import canonical
from s3gate.audit.write.segments import (
    Position,
    list_segments,
    scan,
    segment_path,
    truncate,
)
from s3gate.files import sync_directory

log = logging.getLogger("s3gate.audit")


@dataclass
class Recovery:
    """What the spool directory holds after `shipped`."""

    segments: list[int] = field(default_factory=list)  # kept, in order
    durable: Position = field(default_factory=lambda: Position(0, 0))  # after the last frame
    next_segment: int = 1  # number for the next segment to create
    events: int = 0  # unshipped events kept
    frame_bytes: int = 0
    first_time: float | None = None  # when the oldest unshipped event happened
    torn_bytes: int = 0
    corrupt_frames: int = 0


def recover(directory: Path, shipped: Position, fsync: Callable[[int], None]) -> Recovery:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    numbers = list_segments(directory)
    out = Recovery(durable=shipped, next_segment=max([*numbers, shipped.segment, 0]) + 1)
    first: bytes | None = None
    for number in numbers:
        path = segment_path(directory, number)
        if number < shipped.segment:
            path.unlink()
            continue
        start = shipped.offset if number == shipped.segment else 0
        result = scan(path, start)
        if result.torn_bytes:
            log.warning("audit spool: cut a torn tail of %d bytes off %s", result.torn_bytes, path)
            truncate(path, result.valid_end, fsync)
        if result.corrupt_frames:
            log.error(
                "audit spool: %d damaged frames skipped in %s at offsets %s",
                result.corrupt_frames,
                path,
                result.corrupt_offsets[:10],
            )
        out.segments.append(number)
        out.durable = Position(number, result.valid_end)
        out.events += result.events
        out.frame_bytes += result.valid_end - start
        out.torn_bytes += result.torn_bytes
        out.corrupt_frames += result.corrupt_frames
        first = first or result.first_payload
    if out.events:
        out.first_time = _event_time(first)
    sync_directory(directory)
    return out


def _event_time(payload: bytes | None) -> float:
    """When a recovered event happened (its `time` field), else now."""
    try:
        return canonical.parse_time(json.loads(payload or b"")["time"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return time.time()
