"""The store's `x-amz-tagging-count` as ObjectHead.tag_count
(upstream.s3.headers.object_head): a count S3 could send (0..10, ASCII
digits) or nothing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from multidict import CIMultiDict

from s3gate.upstream.s3.headers import object_head


def _resp(**headers: str) -> Any:
    base = {"ETag": '"e"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"}
    return SimpleNamespace(headers=CIMultiDict({**base, **headers}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0),
        ("4", 4),
        ("10", 10),
        ("", None),
        ("-1", None),
        ("4 ", None),
        ("\u0663", None),  # an Arabic-Indic three: not ASCII digits
        ("123", None),  # more than S3's 10 tags can count
        ("9" * 400, None),  # never converted
    ],
)
def test_tag_count(value: str | None, expected: int | None) -> None:
    headers = {} if value is None else {"x-amz-tagging-count": value}
    assert object_head(_resp(**headers), 3).tag_count == expected
