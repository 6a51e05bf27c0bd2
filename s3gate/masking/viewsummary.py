"""What masking did to a view, kept as the view's own user metadata.

Counts only (records, operators, detectors, rejected records), so that a GET
of a stored view can report them without re-masking; bounded to fit S3's
2 KiB of user metadata, and read back defensively (it is our own metadata,
but a store may hand back anything).
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from s3gate.s3.model import Metadata
from s3gate.transform.summary import MaskSummary

log = logging.getLogger("s3gate.masking")
SUMMARY = "x-amz-meta-s3gate-view-summary"


def summary_metadata(summary: MaskSummary) -> dict[str, str]:
    counts: dict[str, object] = {
        "c": summary.content_kind,
        "z": summary.compressed,
        "r": summary.records,
        "m": summary.records_masked,
        "o": dict(summary.operators),
        "d": dict(summary.detectors),
    }
    if summary.records_rejected:  # record rules of a read profile
        counts["x"] = dict(summary.rejected)
        counts["n"] = summary.records_rejected
    text = json.dumps(counts, separators=(",", ":"), sort_keys=True)
    for bulky in ("d", "x"):
        if len(text) > 1500:  # S3 caps user metadata at 2 KiB
            counts.pop(bulky, None)
            text = json.dumps(counts, separators=(",", ":"), sort_keys=True)
    return {SUMMARY: text}


def summary_from(metadata: Metadata, names: tuple[str, ...]) -> MaskSummary:
    """The counts stored with a view (our own metadata; profiles only if absent)."""
    out = MaskSummary(profiles=names, complete=True)
    raw = metadata.get(SUMMARY)
    if raw is None or len(raw) > 2048:
        return out
    try:
        data = json.loads(raw)
        out.content_kind = str(data.get("c", ""))
        out.compressed = bool(data.get("z", False))
        out.records = int(data.get("r", 0))
        out.records_masked = int(data.get("m", 0))
        out.operators = Counter({str(k): int(v) for k, v in dict(data.get("o", {})).items()})
        out.detectors = Counter({str(k): int(v) for k, v in dict(data.get("d", {})).items()})
        out.rejected = Counter({str(k): int(v) for k, v in dict(data.get("x", {})).items()})
        out.records_rejected = int(data.get("n", 0))
    except (ValueError, TypeError, AttributeError):
        log.warning("a view's stored summary is unreadable; counts omitted")
    return out
