"""s3.partnumber: GET/HEAD `partNumber` parsed with S3's limits."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3.partnumber import requested


@pytest.mark.parametrize(
    ("query", "range_header", "expected"),
    [
        ({}, None, None),
        ({}, "bytes=0-1", None),
        ({"partNumber": "1"}, None, 1),
        ({"partNumber": "0001"}, None, 1),
        ({"partNumber": "10000"}, None, 10000),
    ],
)
def test_requested(query: dict[str, str], range_header: str | None, expected: int | None) -> None:
    assert requested(query, range_header) == expected


@pytest.mark.parametrize(
    "value",
    ["0", "10001", "-1", "", " 1", "1 ", "+1", "1.0", "abc", "\u0663", "\u00b2", "9" * 1000],
)
def test_bad_part_numbers_are_invalid_argument(value: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        requested({"partNumber": value}, None)
    assert caught.value.http_status == 400


def test_part_number_with_a_range_is_invalid_request() -> None:
    with pytest.raises(errors.InvalidRequest):
        requested({"partNumber": "1"}, "bytes=0-1")
