"""Conditional writes (s3.conditions): the writes S3 evaluates If-Match /
If-None-Match on, and the gateway's refusal of them rather than a silent
overwrite."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3.conditions import CONDITIONAL_WRITES, refuse_conditional_write


def test_the_conditional_writes_are_s3s() -> None:
    assert frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"}) == CONDITIONAL_WRITES


REFUSED = [
    pytest.param({"if-none-match": "*"}, id="create-only-if-absent"),
    pytest.param({"if-match": '"etag"'}, id="overwrite-only-if-same"),
    pytest.param({"if-match": ""}, id="empty-if-match"),
    pytest.param({"if-none-match": ""}, id="empty-if-none-match"),
    pytest.param({"if-match": '"a"', "if-none-match": '"b"'}, id="both"),
]


@pytest.mark.parametrize("headers", REFUSED)
def test_write_conditions_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(errors.NotImplementedError_) as caught:
        refuse_conditional_write(headers)
    assert caught.value.error_code == "NotImplemented"
    assert "conditional writes" in caught.value.message


ALLOWED = [
    pytest.param({}, id="none"),
    pytest.param({"content-type": "text/plain"}, id="unrelated"),
    # Read conditions and the copy source's own conditions are not write
    # conditions on the target.
    pytest.param({"if-modified-since": "Wed, 21 Oct 2015 07:28:00 GMT"}, id="if-modified-since"),
    pytest.param({"if-unmodified-since": "Wed, 21 Oct 2015 07:28:00 GMT"}, id="if-unmodified"),
    pytest.param({"x-amz-copy-source-if-match": '"e"'}, id="copy-source-if-match"),
    pytest.param({"x-amz-copy-source-if-none-match": '"e"'}, id="copy-source-if-none-match"),
]


def _refused(headers: dict[str, str]) -> bool:
    try:
        refuse_conditional_write(headers)
    except errors.NotImplementedError_:
        return True
    return False


@pytest.mark.parametrize("headers", ALLOWED)
def test_other_headers_pass(headers: dict[str, str]) -> None:
    assert not _refused(headers)
