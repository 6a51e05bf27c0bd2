"""HTTP dates (RFC 9110 §5.6.7): the three forms, zones, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from s3gate.s3.dates import format_http_date, parse_http_date

RFC = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)  # RFC 9110's own example


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", RFC),  # obsolete RFC 850
        ("Sun Nov  6 08:49:37 1994", RFC),  # asctime: UTC by definition
        ("Sun, 06 Nov 1994 08:49:37 -0000", RFC),  # RFC 5322 "UTC, no zone"
        ("Sun, 06 Nov 1994 10:49:37 +0200", RFC),  # numeric zone, converted
        ("  Sun, 06 Nov 1994 08:49:37 GMT  ", RFC),
        (None, None),
        ("", None),
        ("   ", None),
        ("garbage", None),
        ("1994-11-06T08:49:37Z", None),  # ISO 8601 is not an HTTP date
        ("Sun, 32 Nov 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 1994 25:49:37 GMT", None),
        ("Sun, 06 Nov 1994 08:49:37", None),  # no zone: not guessed
        ("Sun, 06 Nov 1994 08:49:37 XYZ", None),  # unknown zone: not guessed
        ("Sun, 06 Nov 1994 08:49:37 GMT" + " " * 64, RFC),  # stripped first
        ("Sun, 06 Nov 1994 08:49:37 GMT" + "x" * 64, None),  # over the limit
    ],
)
def test_parse_http_date(value: str | None, expected: datetime | None) -> None:
    got = parse_http_date(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (RFC, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (RFC.replace(microsecond=999_999), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (RFC.astimezone(timezone(timedelta(hours=2))), "Sun, 06 Nov 1994 08:49:37 GMT"),
    ],
)
def test_format_http_date(when: datetime, expected: str) -> None:
    assert format_http_date(when) == expected
    assert parse_http_date(format_http_date(when)) == RFC
