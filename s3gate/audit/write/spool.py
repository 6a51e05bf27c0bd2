"""The durable local spool: `append()` returns once the event is on disk.

Group commit: callers queue their framed events and wait; everything queued
is written with one `write` and one `fdatasync` in a dedicated thread (the
event loop keeps serving), then every caller of that group is woken. While a
sync is in flight the next group gathers, so under load the cost of an fsync
is shared by all concurrent requests, and the file is opened once per
segment, not per event.

The shipper reads durable events from a position on, and acknowledges what it
has shipped; fully shipped segments are deleted. `open()` recovers what a
crash left: segments before the shipped position go, a torn tail is cut off,
damaged frames in the middle are skipped (and counted), every complete event
is kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from s3gate import errors
from s3gate.audit.write.recovery import Recovery, recover
from s3gate.audit.write.segments import (
    Position,
    SegmentWriter,
    frame,
    read_frames,
    segment_path,
)
from s3gate.files import sync_directory

log = logging.getLogger("s3gate.audit")


@dataclass
class _Written:
    position: Position | None = None
    closed_segment: int | None = None  # a segment finished by this write
    error: OSError | None = None


# Framed events and the futures of their callers, written and synced together.
Group = list[tuple[bytes, "asyncio.Future[None]"]]


def unavailable() -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable("audit spool unavailable")


class AuditSpool:
    """The durable local queue of audit events (not `masking.spool.Spool`,
    which parks masked bodies)."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_max_bytes: int = 64 * 1024 * 1024,
        fsync: Callable[[int], None] | None = None,
        write: Callable[[int, memoryview], int] | None = None,
    ) -> None:
        """`fsync` and `write` are injectable so tests can count syncs and
        simulate a full or failing disk (see SegmentWriter for the default)."""
        self.directory = directory
        self._max = segment_max_bytes
        self._fsync = fsync
        self._write_fn = write
        self._writer: SegmentWriter | None = None  # touched by the writer thread only
        self._next = 1
        self._closed: list[int] = []  # finished segments still holding unshipped events
        self._durable = Position(0, 0)
        self._queue: Group = []
        self._busy = False  # a group is being written and synced
        self._idle = asyncio.Event()  # set when nothing is queued or in flight
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-spool")
        # Backlog accounting (events and frame bytes, cumulative).
        self._appended = [0, 0]
        self._shipped = [0, 0]
        self._groups: deque[tuple[int, float]] = deque()  # (cumulative end, first time)
        # Set when events become durable and at least `wake_at` wait.
        self.changed = asyncio.Event()
        self.wake_at = 1
        self.syncs = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        # Called with the last error when a write succeeds after failures.
        self.on_resumed: Callable[[str], None] | None = None

    # ---- lifecycle -------------------------------------------------------------

    async def open(self, shipped: Position) -> Recovery:
        """Recover the directory after `shipped` (everything before it is in
        the audit bucket) and start the writer."""
        found = await asyncio.to_thread(
            recover, self.directory, shipped, self._fsync or os.fdatasync
        )
        self._closed = list(found.segments)
        self._durable = found.durable
        self._next = found.next_segment
        self._appended = [found.events, found.frame_bytes]
        if found.first_time is not None:
            self._groups.append((found.events, found.first_time))
        self._loop = asyncio.get_running_loop()
        return found

    async def close(self) -> None:
        """Refuse new appends, finish the queued ones, close the segment."""
        self._closing = True
        await self._idle.wait()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_writer)
        self._thread.shutdown(wait=True)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- appending -------------------------------------------------------------

    async def append(self, payload: bytes) -> None:
        """Return once `payload` is durable; ServiceUnavailable if it is not."""
        await self.submit(payload)

    def submit(self, payload: bytes) -> asyncio.Future[None]:
        """Queue `payload`; the future resolves once it is durable (or fails
        with ServiceUnavailable). Raises ServiceUnavailable when closed."""
        if self._closing or self._loop is None:
            raise unavailable()
        future: asyncio.Future[None] = self._loop.create_future()
        self._queue.append((frame(payload), future))
        if not self._busy:
            self._submit()
        return future

    # The write path is callbacks, not a writer task: the thread hands the
    # result straight back with call_soon_threadsafe, and the next group is
    # submitted in the same loop iteration that wakes the previous one. Each
    # extra hop through the event loop would add a whole loop iteration (the
    # CPU work of every other request) to every audited request's latency.

    def _submit(self) -> None:
        group, self._queue = self._queue, []
        self._busy = True
        self._idle.clear()
        data = b"".join(item for item, _ in group)
        self._thread.submit(self._write_in_thread, data, group)

    def _write_in_thread(self, data: bytes, group: Group) -> None:
        try:
            written = self._write_group(data)
        except BaseException as exc:  # never leave callers waiting
            written = _Written(error=OSError(f"audit spool writer failed: {exc!r}"))
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._finished, data, group, written)

    def _finished(self, data: bytes, group: Group, written: _Written) -> None:
        self._busy = False
        if self._queue:
            self._submit()  # the next group syncs while this one's callers resume
        else:
            self._idle.set()
        self.syncs += 1
        if written.closed_segment is not None:
            self._closed.append(written.closed_segment)
        if written.error is not None or written.position is None:
            self.last_error = f"{written.error}"
            self.last_error_at = time.time()
            log.error("audit spool write failed: %s", written.error)
            for _, future in group:
                if not future.done():
                    future.set_exception(unavailable())
            return
        self._durable = written.position
        self._groups.append((self._appended[0] + len(group), time.time()))
        self._appended[0] += len(group)
        self._appended[1] += len(data)
        if self.last_error is not None and self.on_resumed is not None:
            self.on_resumed(self.last_error)
        self.last_error = None
        if self.backlog_events >= self.wake_at:
            self.changed.set()
        for _, future in group:
            if not future.done():
                future.set_result(None)

    def _write_group(self, data: bytes) -> _Written:
        """Writer thread: append and sync one group; rotate segments."""
        out = _Written()
        try:
            if self._writer is None:
                number, self._next = self._next, self._next + 1
                self._writer = SegmentWriter(self.directory, number, self._fsync, self._write_fn)
            self._writer.append(data)
            out.position = Position(self._writer.number, self._writer.size)
            if self._writer.size >= self._max:
                out.closed_segment = self._writer.number
                self._close_writer()
        except OSError as exc:
            # A failed sync leaves the file's state unknown: never append
            # to it again; whatever valid frames it holds are still read.
            out.error = exc
            writer = self._writer
            if writer is not None:
                self._close_writer()
                if not (writer.size == 0 and self._discard(writer.number)):
                    out.closed_segment = writer.number
        return out

    def _discard(self, number: int) -> bool:
        """Remove a failed segment that never held a durable event and reuse
        its number: on a full disk every failed group would otherwise leave
        one more empty segment file behind."""
        try:
            segment_path(self.directory, number).unlink()
        except OSError:
            return False  # kept, as a closed segment without events
        self._next = number
        return True

    # ---- reading and acknowledging -------------------------------------------

    async def read(self, start: Position, max_events: int) -> tuple[list[bytes], Position, int]:
        """Durable payloads from `start`: (payloads, next position, frame bytes)."""
        durable = self._durable
        numbers = sorted({*self._closed, durable.segment})
        numbers = [n for n in numbers if n >= start.segment and n > 0]
        return await asyncio.to_thread(self._read, start, durable, numbers, max_events)

    def _read(
        self, start: Position, durable: Position, numbers: list[int], max_events: int
    ) -> tuple[list[bytes], Position, int]:
        payloads: list[bytes] = []
        position, size = start, 0
        for number in numbers:
            offset = position.offset if number == position.segment else 0
            limit = durable.offset if number == durable.segment else None
            path = segment_path(self.directory, number)
            got, end, _ = read_frames(path, offset, limit, max_events - len(payloads))
            payloads += got
            size += end - offset
            position = Position(number, end)
            if len(payloads) >= max_events or number >= durable.segment:
                break
        return payloads, position, size

    async def acknowledge(self, position: Position, events: int, size: int) -> None:
        """The events before `position` are in the audit bucket."""
        self._shipped[0] += events
        self._shipped[1] += size
        while self._groups and self._groups[0][0] <= self._shipped[0]:
            self._groups.popleft()
        done = [n for n in self._closed if n < position.segment]
        self._closed = [n for n in self._closed if n >= position.segment]
        if done:
            await asyncio.to_thread(self._remove, done)

    def _remove(self, numbers: list[int]) -> None:
        for number in numbers:
            segment_path(self.directory, number).unlink(missing_ok=True)
        sync_directory(self.directory)

    # ---- status ----------------------------------------------------------------

    @property
    def durable_position(self) -> Position:
        return self._durable

    @property
    def backlog_events(self) -> int:
        return self._appended[0] - self._shipped[0]

    @property
    def backlog_bytes(self) -> int:
        return self._appended[1] - self._shipped[1]

    def oldest_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest unshipped event was appended."""
        if not self._groups or self.backlog_events <= 0:
            return None
        return max(0.0, (time.time() if now is None else now) - self._groups[0][1])
