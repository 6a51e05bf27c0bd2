"""Spool segment files: framing, appending, recovery scan and reading.

A segment is an append-only file `<number:012d>.log` of frames, one per event:

    <crc32 of payload, 8 lower-case hex digits> <payload>\\n

where the payload is the event's canonical JSON (which never holds a raw
newline). The checksum makes every frame self-validating, so a torn write at
the tail (a crash mid-append) or a zero-filled block (a crash before the file
system flushed) is told apart from a complete event and never shipped.

Everything here is blocking file I/O; `spool` runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from s3gate.files import sync_directory

SUFFIX = ".log"
_HEADER = 9  # 8 hex digits and a space


@dataclass(frozen=True, order=True)
class Position:
    """A place in the spool: a segment number and a byte offset in it."""

    segment: int
    offset: int


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:012d}{SUFFIX}"


def list_segments(directory: Path) -> list[int]:
    numbers = []
    for entry in os.listdir(directory):
        stem = entry.removesuffix(SUFFIX)
        if entry.endswith(SUFFIX) and stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def frame(payload: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def unframe(line: bytes) -> bytes | None:
    """The payload of a complete line (with its newline), or None if invalid.

    Leading NUL bytes are skipped: a file system may leave a zero-filled block
    where an unsynced write was lost, followed by frames that did reach disk."""
    line = line.lstrip(b"\0")
    if len(line) < _HEADER + 1 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    payload = line[_HEADER:-1]
    try:
        expected = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == expected else None


@dataclass
class ScanResult:
    """What recovery found in one segment, from a given offset on."""

    events: int = 0
    valid_end: int = 0  # offset just past the last valid frame
    corrupt_frames: int = 0  # invalid lines followed by valid ones (kept, skipped)
    torn_bytes: int = 0  # invalid tail after the last valid frame (truncated)
    first_payload: bytes | None = None
    corrupt_offsets: list[int] = field(default_factory=list)


def scan(path: Path, start: int = 0) -> ScanResult:
    """Validate every frame from `start`; count events and find the tail."""
    result = ScanResult(valid_end=start)
    offset = start
    pending_bad: list[int] = []
    with open(path, "rb") as f:
        f.seek(start)
        while line := f.readline():
            at, offset = offset, offset + len(line)
            payload = unframe(line)
            if payload is None:
                pending_bad.append(at)
                continue
            # Bad lines before a good one are damage in the middle, not a tail.
            result.corrupt_frames += len(pending_bad)
            result.corrupt_offsets += pending_bad
            pending_bad = []
            result.events += 1
            result.valid_end = offset
            if result.first_payload is None:
                result.first_payload = payload
    result.torn_bytes = offset - result.valid_end
    return result


def truncate(path: Path, size: int, fsync: Callable[[int], None]) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        fsync(fd)
    finally:
        os.close(fd)


def read_frames(
    path: Path, start: int, limit: int | None, max_events: int
) -> tuple[list[bytes], int, int]:
    """Up to `max_events` payloads from `start`, not reading past `limit`
    (None: to the end of a closed segment). Returns (payloads, offset after
    the last line consumed, invalid lines skipped). An incomplete last line
    is left unconsumed."""
    payloads: list[bytes] = []
    skipped = 0
    offset = start
    with open(path, "rb") as f:
        f.seek(start)
        while len(payloads) < max_events and (limit is None or offset < limit):
            line = f.readline() if limit is None else f.readline(limit - offset)
            if not line or not line.endswith(b"\n"):
                break
            offset += len(line)
            payload = unframe(line)
            if payload is None:
                skipped += 1
            else:
                payloads.append(payload)
    return payloads, offset, skipped


class SegmentWriter:
    """The open tail segment. Not thread-safe: one writer thread at a time."""

    def __init__(
        self,
        directory: Path,
        number: int,
        fsync: Callable[[int], None] | None = None,
        write: Callable[[int, memoryview], int] | None = None,
    ) -> None:
        """With neither `fsync` nor `write` given (production), each append
        is one `pwritev2(RWF_DSYNC)` call: the writer thread then takes the
        GIL back once per group instead of twice, and every time it does so
        while the event loop is busy costs the loop a forced switch. Tests
        inject the pair to count syncs and simulate failing disks."""
        self.number = number
        self.size = 0
        self._dsync = fsync is None and write is None and hasattr(os, "RWF_DSYNC")
        self._fsync = fsync or os.fdatasync
        self._write = write or os.write
        path = segment_path(directory, number)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self._fd: int | None = os.open(path, flags, 0o600)
        try:
            sync_directory(directory)
        except OSError:
            self.close()
            raise

    def append(self, data: bytes) -> None:
        """Write and sync `data`. On failure, cut the file back to where it
        was, so the next frames never follow a torn one; raises OSError."""
        assert self._fd is not None
        start = self.size
        try:
            view = memoryview(data)
            if self._dsync:
                view = self._append_dsync(self._fd, view)
            while view:  # os.write may write less than asked (signals, quotas)
                view = view[self._write(self._fd, view) :]
            if not self._dsync:
                self._fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):  # the segment is abandoned anyway
                os.ftruncate(self._fd, start)
            raise
        self.size = start + len(data)

    def _append_dsync(self, fd: int, view: memoryview) -> memoryview:
        """What is left to write the plain way: nothing, unless the file
        system refuses RWF_DSYNC (then write + fdatasync from now on)."""
        try:
            while view:  # offset -1: at the end (O_APPEND); each part synced
                view = view[os.pwritev(fd, [view], -1, os.RWF_DSYNC) :]
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
            self._dsync = False
        return view

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
