"""Property: whatever shape, text encoding, content codings and chunking a
trace takes, a masked write either refuses it with an S3 error or leaves no
canary in any form of what it would store (decoded by tools that are not the
gateway's: see tests/canaries.py)."""

from __future__ import annotations

import codecs
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3gate import errors
from tests.canaries import CANARIES, leaks
from tests.unit.transform.helpers import example, mask_chunks
from tests.unit.transform.test_decoding import COMPRESS

WRITE = example("write-default")
REFUSALS = {"AccessDenied", "InvalidArgument", "InvalidRequest", "EntityTooLarge"}

words = st.text(alphabet="abcdefghij klmnop_-:/.", min_size=0, max_size=12)
canary = st.sampled_from(CANARIES)
scalar = st.one_of(words, st.integers(-(10**6), 10**6), st.booleans(), st.none())
# Delimited: detectors decline values glued to other word characters on purpose.
leaf_with_canary = st.builds(lambda pre, c, post: f"{pre} {c} {post}", words, canary, words)


def _json(depth: int) -> st.SearchStrategy[Any]:
    leaf = st.one_of(scalar, leaf_with_canary)
    if depth == 0:
        return leaf
    inner = _json(depth - 1)
    return st.one_of(
        leaf,
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(words, st.just("password")), inner, max_size=3),
    )


record = st.dictionaries(words, _json(2), min_size=1, max_size=4).map(
    lambda d: {**d, "note": f"mail {CANARIES[0]} key {CANARIES[1]}"}
)
ENCODINGS = {
    "utf-8": lambda s: s.encode(),
    "utf-8-bom": lambda s: codecs.BOM_UTF8 + s.encode(),
    "utf-16": lambda s: s.encode("utf-16"),
    "utf-16-be": lambda s: s.encode("utf-16-be"),
    "utf-32-le": lambda s: s.encode("utf-32-le"),
}
SHAPES = {
    "jsonl": ("application/x-ndjson", "t.jsonl"),
    "json": ("application/json", "t.json"),
    "text": ("text/plain", "t.txt"),
    "untyped": (None, "t"),
}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None, str, str | None, list[int]]:
    shape = draw(st.sampled_from(sorted(SHAPES)))
    records = draw(st.lists(record, min_size=1, max_size=4))
    if shape == "json":
        text = json.dumps({"records": records}, ensure_ascii=draw(st.booleans()))
    else:
        text = "".join(json.dumps(r, ensure_ascii=draw(st.booleans())) + "\n" for r in records)
    data = ENCODINGS[draw(st.sampled_from(sorted(ENCODINGS)))](text)
    codings = draw(st.lists(st.sampled_from(sorted(COMPRESS)), max_size=2))
    for coding in codings:
        data = COMPRESS[coding](data)
    declared = ", ".join(codings) if codings and draw(st.booleans()) else None
    cuts = sorted(draw(st.lists(st.integers(0, max(len(data) - 1, 0)), max_size=6)))
    ctype, key = SHAPES[shape]
    return data, ctype, key, declared, cuts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_refused_or_no_canary_survives(
    case: tuple[bytes, str | None, str, str | None, list[int]],
) -> None:
    data, ctype, key, declared, cuts = case
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    try:
        out, _ = mask_chunks([WRITE], chunks, content_type=ctype, key=key, encoding=declared)
    except errors.S3Error as exc:
        assert exc.error_code in REFUSALS
        assert not any(c in exc.message for c in CANARIES)
        return
    assert leaks(out) == []
