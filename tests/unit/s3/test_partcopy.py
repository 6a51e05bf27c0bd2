"""UploadPartCopy's source range and answer (s3.partcopy), and its routing."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3 import partcopy
from s3gate.s3.model import ByteRange
from s3gate.s3.operations import resolve


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        (None, None),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=5-10", ByteRange(5, 10)),
        (" bytes=0-5242879 ", ByteRange(0, 5242879)),
    ],
)
def test_ranges(value: str | None, wanted: ByteRange | None) -> None:
    assert partcopy.parse_range(value) == wanted


@pytest.mark.parametrize(
    "value",
    ["", "bytes=5-2", "bytes=0-", "bytes=-5", "bytes=0-1,3-4", "items=0-1", "bytes=a-b", "0-1"],
)
def test_bad_ranges_are_refused_not_ignored(value: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        partcopy.parse_range(value)


def test_result_document() -> None:
    doc = partcopy.result('"abc"', "2026-01-01T00:00:00.000Z", {"CRC32": "AAAAAA=="})
    assert b"<CopyPartResult" in doc and b"<ETag>&quot;abc&quot;</ETag>" in doc
    assert b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32>" in doc


def test_routing() -> None:
    op = resolve(
        "PUT", "gw", b"/bkt/k", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "a/b"}
    )
    assert op.name == "UploadPartCopy"
