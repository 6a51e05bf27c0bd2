"""The durable spool: group commit, crash recovery, failing disks."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from s3gate import errors
from s3gate.audit.write import spool as spool_module
from s3gate.audit.write.segments import Position, frame, list_segments, segment_path
from s3gate.audit.write.spool import AuditSpool


class CountingFsync:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        os.fdatasync(fd)


def payload(n: int) -> bytes:
    return b'{"id":"e%d","time":"2030-01-01T00:00:00.000000Z"}' % n


START = Position(0, 0)


async def read_all(spool: AuditSpool, start: Position = START) -> list[bytes]:
    payloads, _, _ = await spool.read(start, 1_000_000)
    return payloads


async def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    fsync = CountingFsync()
    spool = AuditSpool(tmp_path, fsync=fsync)
    await spool.open(Position(0, 0))
    await asyncio.gather(*(spool.append(payload(n)) for n in range(500)))
    assert fsync.calls <= 3  # one group (sometimes split once while the first syncs)
    assert len(await read_all(spool)) == 500
    assert spool.backlog_events == 500
    await spool.close()


async def test_appends_under_steady_load_are_grouped(tmp_path: Path) -> None:
    """Callers arriving while a sync is in flight ride on the next one."""

    class SlowFsync(CountingFsync):
        def __call__(self, fd: int) -> None:
            super().__call__(fd)
            time.sleep(0.005)

    slow_fsync = SlowFsync()
    spool = AuditSpool(tmp_path, fsync=slow_fsync)
    await spool.open(Position(0, 0))

    async def client(c: int) -> None:
        for n in range(25):
            await spool.append(payload(c * 100 + n))

    await asyncio.gather(*(client(c) for c in range(16)))
    assert len(await read_all(spool)) == 400
    assert slow_fsync.calls < 400 / 4  # far fewer syncs than events
    await spool.close()


async def test_append_returns_only_after_the_sync(tmp_path: Path) -> None:
    synced: list[int] = []
    spool = AuditSpool(tmp_path, fsync=lambda fd: synced.append(fd))
    await spool.open(Position(0, 0))
    await spool.append(payload(1))
    assert synced  # the future resolved after the (injected) sync ran
    await spool.close()


async def test_reopen_after_crash_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path)
    await spool.open(Position(0, 0))
    for n in range(10):
        await spool.append(payload(n))
    # No close(): the process "dies" here. A new spool on the same directory:
    again = AuditSpool(tmp_path)
    recovery = await again.open(Position(0, 0))
    assert recovery.events == 10 and recovery.torn_bytes == 0
    await again.append(payload(10))  # appends go to a fresh segment
    assert await read_all(again) == [payload(n) for n in range(11)]
    assert again.backlog_events == 11
    await again.close()
    spool._thread.shutdown()


async def test_torn_tail_is_cut_and_complete_events_kept(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path)
    await spool.open(Position(0, 0))
    for n in range(3):
        await spool.append(payload(n))
    await spool.close()
    path = segment_path(tmp_path, list_segments(tmp_path)[-1])
    whole = path.stat().st_size
    with open(path, "ab") as f:
        f.write(frame(payload(99))[:-7])  # a crash in the middle of a write
    again = AuditSpool(tmp_path)
    recovery = await again.open(Position(0, 0))
    assert recovery.events == 3
    assert recovery.torn_bytes > 0
    assert path.stat().st_size == whole
    assert await read_all(again) == [payload(n) for n in range(3)]
    await again.close()


async def test_damage_in_the_middle_skips_only_the_damaged_frame(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path)
    await spool.open(Position(0, 0))
    for n in range(3):
        await spool.append(payload(n))
    await spool.close()
    path = segment_path(tmp_path, list_segments(tmp_path)[-1])
    data = bytearray(path.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 20] ^= 0x01  # flip a bit inside the second event
    path.write_bytes(bytes(data))
    again = AuditSpool(tmp_path)
    recovery = await again.open(Position(0, 0))
    assert recovery.corrupt_frames == 1 and recovery.torn_bytes == 0
    assert await read_all(again) == [payload(0), payload(2)]
    await again.close()


async def test_zero_filled_block_before_good_frames(tmp_path: Path) -> None:
    """A file system may zero-fill a lost block; frames after it survive."""
    path = segment_path(tmp_path, 1)
    path.write_bytes(frame(payload(0)) + b"\0" * 64 + frame(payload(1)))
    spool = AuditSpool(tmp_path)
    recovery = await spool.open(Position(0, 0))
    assert recovery.events == 2
    assert await read_all(spool) == [payload(0), payload(1)]
    await spool.close()


async def test_disk_full_raises_service_unavailable_then_recovers(tmp_path: Path) -> None:
    full = True

    def write(fd: int, data: memoryview) -> int:
        if full:
            os.write(fd, bytes(data[:5]))  # a partial write, then ENOSPC
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)

    spool = AuditSpool(tmp_path, write=write)
    await spool.open(Position(0, 0))
    with pytest.raises(errors.ServiceUnavailable, match="audit spool unavailable"):
        await spool.append(payload(0))
    assert spool.last_error is not None and "No space" in spool.last_error
    full = False
    await spool.append(payload(1))  # space again: a new segment, no torn frame before it
    assert spool.last_error is None
    assert await read_all(spool) == [payload(1)]
    await spool.close()
    again = AuditSpool(tmp_path)
    recovery = await again.open(Position(0, 0))
    assert recovery.events == 1 and recovery.corrupt_frames == 0
    await again.close()


async def test_a_long_outage_leaves_no_trail_of_empty_segments(tmp_path: Path) -> None:
    full = False

    def write(fd: int, data: memoryview) -> int:
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)

    spool = AuditSpool(tmp_path, segment_max_bytes=1, write=write)  # a segment per group
    await spool.open(Position(0, 0))
    await spool.append(payload(0))
    full = True
    for n in range(1, 20):
        with pytest.raises(errors.ServiceUnavailable):
            await spool.append(payload(n))
    assert list_segments(tmp_path) == [1]  # each failed try's empty file removed
    full = False
    await spool.append(payload(20))
    assert list_segments(tmp_path) == [1, 2]
    assert await read_all(spool) == [payload(0), payload(20)]
    await spool.close()


async def test_a_failed_segment_that_cannot_be_removed_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    spool = AuditSpool(tmp_path, write=write)
    await spool.open(Position(0, 0))
    # Removing the failed (empty) segment fails too.
    monkeypatch.setattr(spool_module, "segment_path", lambda d, n: tmp_path / "gone" / str(n))
    for n in range(3):
        with pytest.raises(errors.ServiceUnavailable):
            await spool.append(payload(n))
    assert list_segments(tmp_path) == [1, 2, 3]  # kept, each a closed segment
    assert sorted(spool._closed) == [1, 2, 3]
    await spool.close()


async def test_failed_fsync_fails_the_whole_group(tmp_path: Path) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    spool = AuditSpool(tmp_path, fsync=fsync)
    await spool.open(Position(0, 0))
    results = await asyncio.gather(
        *(spool.append(payload(n)) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, errors.ServiceUnavailable) for r in results)
    assert spool.backlog_events == 0
    await spool.close()


async def test_unwritable_directory_raises_service_unavailable(tmp_path: Path) -> None:
    """The spool directory becomes unusable (removed, replaced by a file:
    as good as a read-only mount even when the tests run as root)."""
    directory = tmp_path / "spool"
    spool = AuditSpool(directory)
    await spool.open(Position(0, 0))
    await spool.append(payload(0))
    await asyncio.to_thread(spool._close_writer)  # next append opens a new segment
    shutil.rmtree(directory)
    directory.write_text("not a directory")
    with pytest.raises(errors.ServiceUnavailable):
        await spool.append(payload(1))
    await spool.close()


# Run in a child process that gives up root after its imports: root ignores
# file permissions, and CI runs the suite as root.
_READ_ONLY_CHILD = """
import asyncio, os, sys
from s3gate import errors
from s3gate.audit.write.segments import Position
from pathlib import Path
from s3gate.audit.write.spool import AuditSpool

async def main() -> str:
    spool = AuditSpool(Path(sys.argv[1]))
    await spool.open(Position(0, 0))
    try:
        await spool.append(b'{"id":"e0","time":"2030-01-01T00:00:00.000000Z"}')
    except errors.ServiceUnavailable as exc:
        return "ServiceUnavailable:" + exc.code
    finally:
        await spool.close()
    return "appended"

if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
print(asyncio.run(main()))
"""


def test_read_only_directory_raises_service_unavailable() -> None:
    # Not under tmp_path: pytest's base folder is private to root, and the
    # child must be able to reach the directory it is refused to write in.
    with tempfile.TemporaryDirectory(prefix="s3gate-spool-") as top:
        Path(top).chmod(0o755)
        directory = Path(top) / "spool"
        directory.mkdir()
        _read_only_child(directory)


def _read_only_child(directory: Path) -> None:
    directory.chmod(0o555)  # the child (nobody, or an ordinary user) cannot write
    try:
        child = subprocess.run(
            [sys.executable, "-c", _READ_ONLY_CHILD, str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        directory.chmod(0o700)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "ServiceUnavailable:ServiceUnavailable"
    assert list(directory.iterdir()) == []  # nothing written


async def test_segments_rotate_and_shipped_ones_are_removed(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path, segment_max_bytes=4096)
    await spool.open(Position(0, 0))
    for n in range(200):
        await spool.append(payload(n))
    assert len(list_segments(tmp_path)) > 1
    got, position, size = await spool.read(Position(0, 0), 150)
    assert got == [payload(n) for n in range(150)]
    await spool.acknowledge(position, len(got), size)
    assert spool.backlog_events == 50
    assert list_segments(tmp_path)[0] == position.segment  # earlier segments deleted
    rest, end, _ = await spool.read(position, 1000)
    assert rest == [payload(n) for n in range(150, 200)]
    assert end == spool.durable_position
    await spool.close()
    # Reopened from the shipped position, only the unshipped remain.
    again = AuditSpool(tmp_path, segment_max_bytes=4096)
    recovery = await again.open(position)
    assert recovery.events == 50
    await again.close()


async def test_closed_spool_refuses_appends(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path)
    await spool.open(Position(0, 0))
    await spool.close()
    with pytest.raises(errors.ServiceUnavailable):
        await spool.append(payload(0))


async def test_oldest_age_tracks_unshipped_events(tmp_path: Path) -> None:
    spool = AuditSpool(tmp_path)
    await spool.open(Position(0, 0))
    assert spool.oldest_age() is None
    await spool.append(payload(0))
    age = spool.oldest_age()
    assert age is not None and age < 5
    got, position, size = await spool.read(Position(0, 0), 10)
    await spool.acknowledge(position, len(got), size)
    assert spool.oldest_age() is None and spool.backlog_bytes == 0
    await spool.close()
