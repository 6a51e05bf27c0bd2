"""upstream.local.versions.only_part: which parts the local store can read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3gate import errors
from s3gate.s3.model import ObjectHead
from s3gate.upstream.local.versions import only_part

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("parts_count", "part", "error"),
    [
        (None, None, None),
        (None, 1, None),
        (1, 1, None),
        (None, 2, errors.InvalidPartNumber),
        (3, None, None),
        (3, 1, errors.NotImplementedError_),
        (3, 2, errors.NotImplementedError_),
    ],
)
def test_only_part(parts_count: int | None, part: int | None, error: type | None) -> None:
    head = ObjectHead(4, '"e"', WHEN, parts_count=parts_count)
    if error is None:
        only_part(head, part)
    else:
        with pytest.raises(error):
            only_part(head, part)
