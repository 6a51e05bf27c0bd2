"""handlers.listencoding: the encoding asked for, or `url` when a name the
listing writes cannot be carried by XML 1.0."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.handlers.listencoding import asked, needed

NEEDED = {
    "nothing odd, none asked": (None, ["a", None, "b/"], None),
    "nothing odd, url asked": ("url", ["a"], "url"),
    "a key with U+FFFE": (None, ["a", "b\ufffe"], "url"),
    "a prefix with U+FFFF": (None, ["\uffff/"], "url"),
    "a marker with a C0 control": (None, [None, "m\x01"], "url"),
    "url asked and odd": ("url", ["\ufffe"], "url"),
    "tab, lf and cr are carried": (None, ["a\tb\nc\r"], None),
    "no names": (None, [], None),
}


@pytest.mark.parametrize(("encoding", "names", "expected"), list(NEEDED.values()), ids=list(NEEDED))
def test_needed(encoding: str | None, names: list[str | None], expected: str | None) -> None:
    assert needed(encoding, names) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("url", "url")])
def test_asked(value: str | None, expected: str | None) -> None:
    assert asked(value) == expected


@pytest.mark.parametrize("value", ["URL", "base64", "url "])
def test_asked_refuses_other_encodings(value: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        asked(value)
