"""Batch objects: the events of one manifest, as gzip-compressed JSON Lines.

Each line is one event's canonical JSON followed by `\\n`, in spool order. The
gzip member has mtime 0, no file name and compression level 6, so the bytes
depend only on the events (a re-ship writes the same object); verifiers only
rely on the SHA-256 in the manifest, never on re-compressing.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass

from s3gate.audit.manifest import BatchSummary

CONTENT_TYPE = "application/gzip"
_LEVEL = 6
# A batch larger than this when decompressed is refused by readers (a
# decompression bomb would otherwise exhaust the verifier's memory).
MAX_DECOMPRESSED = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Batch:
    data: bytes
    summary: BatchSummary


def encode(payloads: list[bytes]) -> Batch:
    """Compress spooled event payloads into a batch object, and summarise them."""
    raw = b"".join(p + b"\n" for p in payloads)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=_LEVEL, mtime=0, filename="") as gz:
        gz.write(raw)
    times = []
    for payload in payloads:
        times.append(json.loads(payload)["time"])
    first_id = json.loads(payloads[0])["id"] if payloads else None
    last_id = json.loads(payloads[-1])["id"] if payloads else None
    summary = BatchSummary(
        events=len(payloads),
        first_time=min(times) if times else None,  # fixed-width UTC times sort as text
        last_time=max(times) if times else None,
        first_id=first_id,
        last_id=last_id,
    )
    return Batch(buffer.getvalue(), summary)


def decode(data: bytes) -> list[bytes]:
    """The event lines of a batch object (without newlines). ValueError if it
    is not a gzip of newline-terminated lines."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as gz:
            raw = gz.read(MAX_DECOMPRESSED + 1)
    except (OSError, EOFError) as exc:
        raise ValueError(f"not a gzip object: {exc}") from exc
    if len(raw) > MAX_DECOMPRESSED:
        raise ValueError("batch too large when decompressed")
    if not raw:
        return []
    if not raw.endswith(b"\n"):
        raise ValueError("last line is not terminated")
    return raw[:-1].split(b"\n")
