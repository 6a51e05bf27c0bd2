"""A read view's stored summary keeps what a read profile's record rules
rejected, so the read's audit event counts them too."""

from __future__ import annotations

from collections import Counter

import pytest

from s3gate.masking.viewsummary import summary_from, summary_metadata
from s3gate.transform.summary import MaskSummary


@pytest.mark.parametrize(
    ("rejected", "total"),
    [({}, 0), ({"v:shape": 2, "v:no-debug": 1}, 2)],
)
def test_rejections_survive_the_view_metadata(rejected: dict[str, int], total: int) -> None:
    summary = MaskSummary(
        profiles=("v",),
        content_kind="jsonl",
        records=5,
        rejected=Counter(rejected),
        records_rejected=total,
    )
    again = summary_from(summary_metadata(summary), ("v",))
    assert dict(again.rejected) == rejected
    assert again.records_rejected == total
    assert again.records == 5 and again.content_kind == "jsonl"
