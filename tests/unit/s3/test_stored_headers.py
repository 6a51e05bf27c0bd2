"""What is stored of a request's headers: Content-Encoding without aws-chunked."""

from __future__ import annotations

import pytest

from s3gate.s3.headers import stored_metadata, without_aws_chunked


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("deflate, gzip", "deflate, gzip"),  # no aws-chunked: verbatim, spaces and all
        ("gzip", "gzip"),
        ("aws-chunked", None),
        ("AWS-Chunked", None),
        ("aws-chunked,gzip", "gzip"),
        ("aws-chunked, deflate, gzip", "deflate, gzip"),
        ("deflate, aws-chunked, gzip", "deflate, gzip"),
        ("gzip, aws-chunked", "gzip"),
        ("gzip ,aws-chunked", "gzip"),
    ],
)
def test_without_aws_chunked(sent: str, stored: str | None) -> None:
    assert without_aws_chunked(sent) == stored


def test_stored_metadata_keeps_the_clients_content_encoding() -> None:
    got = stored_metadata({"content-encoding": "deflate, gzip", "content-type": "text/plain"})
    assert got["content-encoding"] == "deflate, gzip"
    assert "content-encoding" not in stored_metadata({"content-encoding": "aws-chunked"})
