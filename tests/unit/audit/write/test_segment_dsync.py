"""The production write path: one pwritev2(RWF_DSYNC) per group, falling back
to write + fdatasync where the file system refuses the flag."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from s3gate.audit.write.segments import SegmentWriter, frame, read_frames, segment_path


def _frames(n: int) -> bytes:
    return b"".join(frame(b'{"n":%d}' % i) for i in range(n))


def _recorder(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"pwritev": [], "write": [], "fdatasync": []}
    real_pwritev, real_write, real_sync = os.pwritev, os.write, os.fdatasync

    def pwritev(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        calls["pwritev"].append(flags)
        return real_pwritev(fd, buffers, offset, flags)

    def write(fd: int, data: memoryview) -> int:
        calls["write"].append(len(data))
        return real_write(fd, data)

    def fdatasync(fd: int) -> None:
        calls["fdatasync"].append(fd)
        real_sync(fd)

    monkeypatch.setattr(os, "pwritev", pwritev)
    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return calls


def test_one_synced_write_per_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recorder(monkeypatch)
    writer = SegmentWriter(tmp_path, 1)
    first, second = _frames(3), _frames(5)
    writer.append(first)
    writer.append(second)
    writer.close()
    assert calls["pwritev"] == [os.RWF_DSYNC, os.RWF_DSYNC]
    assert calls["write"] == [] and calls["fdatasync"] == []
    assert segment_path(tmp_path, 1).read_bytes() == first + second
    got, end, _ = read_frames(segment_path(tmp_path, 1), 0, None, 100)
    assert len(got) == 8 and end == len(first + second)


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS])
def test_falls_back_when_the_flag_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    calls = _recorder(monkeypatch)

    def refuse(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        calls["pwritev"].append(flags)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "pwritev", refuse)
    writer = SegmentWriter(tmp_path, 1)
    data = _frames(4)
    writer.append(data)
    writer.append(data)
    writer.close()
    assert len(calls["pwritev"]) == 1  # tried once, then write + fdatasync
    assert len(calls["fdatasync"]) == 2
    assert segment_path(tmp_path, 1).read_bytes() == data + data


def test_a_failing_synced_write_cuts_the_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SegmentWriter(tmp_path, 1)
    kept = _frames(2)
    writer.append(kept)
    real = os.pwritev

    def torn(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        real(fd, [buffers[0][:7]], offset, flags)  # part of the group reaches the disk
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "pwritev", torn)
    with pytest.raises(OSError):
        writer.append(_frames(3))
    writer.close()
    assert segment_path(tmp_path, 1).read_bytes() == kept
