"""The audit event's masking summary when record rules left records out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from s3gate.audit.events import AuditEvent, MaskingSummary
from s3gate.auditing import _masking
from s3gate.transform.summary import MaskSummary


@pytest.mark.parametrize(
    ("summary", "action", "rejected"),
    [
        (MaskSummary(profiles=("p",)), None, {}),
        # Leaving records out rewrites the body, even with nothing masked.
        (
            MaskSummary(profiles=("p",), rejected=Counter({"p:a": 2}), records_rejected=2),
            "rewrite",
            {"p:a": 2},
        ),
        (
            MaskSummary(
                profiles=("p",), rejected=Counter({"p:a": 1}), records_rejected=1, held=("p:h",)
            ),
            "hold",
            {"p:a": 1},
        ),
    ],
)
def test_rejections_are_in_the_event(
    summary: MaskSummary, action: str | None, rejected: dict[str, int]
) -> None:
    event = _masking(summary)
    assert event == MaskingSummary("p", {}, action, rejected)
    assert event.total == sum(rejected.values())
    shown = event.as_json()
    assert shown.get("rejected", {}) == rejected
    # An event without rejections reads exactly as before record rules.
    assert ("rejected" in shown) == bool(rejected)


def test_rejections_survive_the_event_json() -> None:
    event = AuditEvent(
        type="request",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        masking=MaskingSummary("p", {"email": 1}, "rewrite", {"p:a": 3}),
    )
    again = AuditEvent.from_json(event.as_json())
    assert again.masking == event.masking
