"""Parsing moved out of the gateway and handlers: the copy source header, STS
on the S3 endpoint, and an S3 error as the client's response."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3.copysource import parse_copy_source, split_copy_source
from s3gate.s3.errorpage import error_response
from s3gate.s3.sts import is_sts


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bucket/key", ("bucket", "key")),
        ("/bucket/a/b%20c", ("bucket", "a/b c")),
    ],
)
def test_copy_source_parses(value: str, expected: tuple[str, str]) -> None:
    assert parse_copy_source(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bucket/key", ("bucket", "key", None)),
        ("bucket/key?versionId=3HL4kqtJ", ("bucket", "key", "3HL4kqtJ")),
        ("/bucket/a%3Fb?versionId=a%2Bb", ("bucket", "a?b", "a+b")),
        ("bucket/key?versionId=null", ("bucket", "key", "null")),
    ],
)
def test_copy_source_versions(value: str, expected: tuple[str, str, str | None]) -> None:
    assert split_copy_source(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        # Only versionId may follow the '?', once, non-empty, bounded.
        ("bucket/key?partNumber=1", errors.InvalidArgument),
        ("bucket/key?versionId", errors.InvalidArgument),
        ("bucket/key?versionId=", errors.InvalidArgument),
        ("bucket/key?versionId=a&x=1", errors.InvalidArgument),
        ("bucket/key?versionId=" + "v" * 1025, errors.InvalidArgument),
        ("bucket/key?versionId=a%0Ab", errors.InvalidArgument),
        ("bucket", errors.InvalidArgument),
        ("bucket/", errors.InvalidArgument),
        ("BAD_bucket/key", errors.InvalidBucketName),
        ("bucket/" + "k" * 1025, errors.KeyTooLongError),
    ],
)
def test_bad_copy_sources_are_refused(value: str, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        parse_copy_source(value)


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("method", "host", "path", "query", "ctype", "expected"),
    [
        ("POST", "gw:9000", "/", {}, FORM, True),
        ("GET", "gw:9000", "/", {"Action": "AssumeRoleWithWebIdentity"}, None, True),
        ("GET", "gw:9000", "/", {}, None, False),  # ListBuckets
        ("POST", "gw:9000", "/bucket", {}, FORM, False),
        # The Host names a bucket: S3, whatever the path and type.
        ("POST", "traces.s3.example.com", "/", {}, FORM, False),
        ("GET", "traces.s3.example.com", "/", {"Action": "x"}, None, False),
    ],
)
def test_sts_is_told_from_s3(
    method: str, host: str, path: str, query: dict[str, str], ctype: str | None, expected: bool
) -> None:
    assert is_sts(method, host, path, query, ctype, ("s3.example.com",)) is expected


@pytest.mark.parametrize(
    ("exc", "method", "has_body"),
    [
        (errors.NoSuchKey(), "GET", True),
        (errors.NoSuchKey(), "HEAD", False),
        (errors.NotModified(), "GET", False),
    ],
)
def test_error_response(exc: errors.S3Error, method: str, has_body: bool) -> None:
    response = error_response(exc, method, "REQ1", "/b/k")
    assert response.status_code == exc.http_status
    if has_body:
        assert response.headers["content-type"] == "application/xml"
        assert f"<Code>{exc.error_code}</Code>".encode() in bytes(response.body)
        assert b"REQ1" in bytes(response.body) and b"/b/k" in bytes(response.body)
    else:
        assert response.body == b""
