"""Call.int_param: integer query parameters (max-keys, partNumber, …) are
ASCII digits within a length; anything else is InvalidArgument, never a
Unicode digit read as a number."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.handlers.call import Call
from s3gate.s3.operations import Operation


def _call(query: dict[str, str]) -> Call:
    # int_param reads only the query; the other fields are never touched.
    return Call(
        request_id="r",
        op=Operation("ListObjectsV2", "b", None),
        query=query,
        headers={},
        principal=None,  # type: ignore[arg-type]
        body=None,  # type: ignore[arg-type]
        upstream=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        bundle=None,  # type: ignore[arg-type]
        policy_context=None,  # type: ignore[arg-type]
        decision=None,
        list_tokens=None,  # type: ignore[arg-type]
        masking=None,  # type: ignore[arg-type]
        tally=None,  # type: ignore[arg-type]
    )


ACCEPTED = {
    "absent": (None, 1000),
    "empty": ("", 1000),
    "plain": ("5", 5),
    "leading zeros": ("0010", 10),
    "over the ceiling is clamped": ("5000", 1000),
}
REFUSED = {
    "arabic-indic digits": "\u0663",
    "fullwidth digits": "\uff11\uff10",
    "superscript": "\u00b2",
    "devanagari mixed in": "1\u0966",
    "sign": "+5",
    "negative": "-1",
    "spaces": " 5",
    "underscore": "1_0",
    "twenty digits": "1" * 20,
    "ten thousand digits": "9" * 10_000,
    "word": "ten",
}


@pytest.mark.parametrize(("raw", "expected"), list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_accepted(raw: str | None, expected: int) -> None:
    query = {} if raw is None else {"max-keys": raw}
    assert _call(query).int_param("max-keys", 1000, high=1000) == expected


@pytest.mark.parametrize("raw", list(REFUSED.values()), ids=list(REFUSED))
def test_refused(raw: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        _call({"max-keys": raw}).int_param("max-keys", 1000, high=1000)
    assert caught.value.error_code == "InvalidArgument"


def test_below_the_floor() -> None:
    with pytest.raises(errors.InvalidArgument, match="at least 1"):
        _call({"partNumber": "0"}).int_param("partNumber", 0, low=1)
