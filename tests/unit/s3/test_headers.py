"""S3 request headers in, response headers out (s3.headers): the Range
header (RFC 7233's forms, S3's refusal of several ranges, hostile numbers),
conditional headers, what is stored of a request, and the headers of a GET
or HEAD."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3gate import errors
from s3gate.s3.headers import (
    MAX_USER_METADATA_BYTES,
    apply_overrides,
    conditions,
    iso_date,
    object_headers,
    parse_range,
    stored_metadata,
    without_aws_chunked,
)
from s3gate.s3.model import ByteRange, Conditions, ObjectHead, resolve_range

HUGE = "9" * 5000  # past Python's int-from-text limit (4300 digits)

RANGES = [
    # RFC 7233 section 2.1's examples, over its 10000-byte representation.
    pytest.param("bytes=0-499", ByteRange(0, 499), id="rfc-first-500"),
    pytest.param("bytes=500-999", ByteRange(500, 999), id="rfc-second-500"),
    pytest.param("bytes=-500", ByteRange(None, 500), id="rfc-final-500-suffix"),
    pytest.param("bytes=9500-", ByteRange(9500, None), id="rfc-final-500-open"),
    pytest.param("bytes=0-0", ByteRange(0, 0), id="first-byte"),
    pytest.param("bytes=-1", ByteRange(None, 1), id="last-byte"),
    pytest.param("bytes=-0", ByteRange(None, 0), id="empty-suffix"),  # unsatisfiable later
    pytest.param("bytes=007-0010", ByteRange(7, 10), id="leading-zeros"),
    pytest.param(" bytes = 1 - 2 ", ByteRange(1, 2), id="spaces-tolerated"),
    pytest.param("bytes=0-9223372036854775808", ByteRange(0, 2**63), id="end-past-63-bits"),
    # Several ranges: S3 serves none of them, the whole object instead.
    pytest.param("bytes=0-0,-1", None, id="rfc-first-and-last-multi"),
    pytest.param("bytes=500-600,601-999", None, id="rfc-multi-adjacent"),
    pytest.param("bytes=0-1, 5-6", None, id="multi-with-space"),
    # Malformed: ignored, as RFC 7233 says.
    pytest.param("bytes=500-499", None, id="last-before-first"),
    pytest.param("bytes=-", None, id="no-numbers"),
    pytest.param("bytes=", None, id="no-spec"),
    pytest.param("bytes", None, id="unit-only"),
    pytest.param("items=0-5", None, id="other-unit"),
    pytest.param("bytes=a-b", None, id="letters"),
    pytest.param("bytes=--5", None, id="negative-suffix"),
    pytest.param("bytes=-5-", None, id="negative-start"),
    pytest.param("bytes=-1-5", None, id="negative-first"),
    pytest.param("bytes=1.5-2", None, id="fraction"),
    pytest.param("bytes=0x10-0x20", None, id="hex"),
    pytest.param("bytes=0-5\n", ByteRange(0, 5), id="trailing-newline-stripped"),
    pytest.param("bytes=0-5;x", None, id="trailing-junk"),
    pytest.param("", None, id="empty"),
    pytest.param(None, None, id="absent"),
]


@pytest.mark.parametrize(("value", "expected"), RANGES)
def test_parse_range(value: str | None, expected: ByteRange | None) -> None:
    assert parse_range(value) == expected


# Hostile numbers: as many digits as a header holds. A range past every
# object is unsatisfiable, an end or a suffix past it the whole object —
# never an InternalError from converting the text.
HUGE_RANGES = [
    pytest.param(f"bytes={HUGE}-", None, id="huge-start"),
    pytest.param(f"bytes={HUGE}-{HUGE}", None, id="huge-start-and-end"),
    pytest.param(f"bytes=0-{HUGE}", (0, 9999), id="huge-end"),
    pytest.param(f"bytes=-{HUGE}", (0, 9999), id="huge-suffix"),
    pytest.param(f"bytes=00000{'0' * 5000}5-6", (5, 6), id="many-leading-zeros"),
]


@pytest.mark.parametrize(("value", "offsets"), HUGE_RANGES)
def test_huge_numbers_resolve_like_big_ones(value: str, offsets: tuple[int, int] | None) -> None:
    rng = parse_range(value)
    assert rng is not None
    if offsets is None:
        with pytest.raises(errors.InvalidRange):
            resolve_range(rng, 10_000)
    else:
        assert resolve_range(rng, 10_000) == offsets


RESOLVED = [
    pytest.param("bytes=0-499", (0, 499), id="rfc-first-500"),
    pytest.param("bytes=500-999", (500, 999), id="rfc-second-500"),
    pytest.param("bytes=-500", (9500, 9999), id="rfc-final-500-suffix"),
    pytest.param("bytes=9500-", (9500, 9999), id="rfc-final-500-open"),
    pytest.param("bytes=9500-20000", (9500, 9999), id="end-clamped"),
    pytest.param("bytes=-20000", (0, 9999), id="suffix-longer-than-object"),
    pytest.param("bytes=9999-", (9999, 9999), id="last-byte-open"),
]


@pytest.mark.parametrize(("value", "offsets"), RESOLVED)
def test_rfc_ranges_resolve_over_10000_bytes(value: str, offsets: tuple[int, int]) -> None:
    rng = parse_range(value)
    assert rng is not None and resolve_range(rng, 10_000) == offsets


@pytest.mark.parametrize(
    ("value", "size"),
    [
        pytest.param("bytes=10000-", 10_000, id="start-at-size"),
        pytest.param("bytes=-0", 10_000, id="empty-suffix"),
        pytest.param("bytes=0-0", 0, id="empty-object"),
        pytest.param("bytes=-5", 0, id="suffix-of-empty-object"),
    ],
)
def test_unsatisfiable_ranges_are_invalid_range(value: str, size: int) -> None:
    rng = parse_range(value)
    assert rng is not None
    with pytest.raises(errors.InvalidRange) as caught:
        resolve_range(rng, size)
    assert caught.value.headers == {"Content-Range": f"bytes */{size}"}


CONDITIONS = [
    pytest.param({}, "", Conditions(), id="none"),
    pytest.param(
        {
            "if-match": '"e1"',
            "if-none-match": "*",
            "if-modified-since": "Wed, 21 Oct 2015 07:28:00 GMT",
            "if-unmodified-since": "Thu, 22 Oct 2015 07:28:00 GMT",
        },
        "",
        Conditions('"e1"', "*", "Wed, 21 Oct 2015 07:28:00 GMT", "Thu, 22 Oct 2015 07:28:00 GMT"),
        id="all-four",
    ),
    pytest.param(
        {"x-amz-copy-source-if-match": '"src"', "if-match": '"target"'},
        "x-amz-copy-source-",
        Conditions(if_match='"src"'),
        id="copy-source-prefix-only",
    ),
    pytest.param(
        {"if-match": '"target"'}, "x-amz-copy-source-", Conditions(), id="copy-ignores-plain"
    ),
    pytest.param({"if-none-match": ""}, "", Conditions(if_none_match=""), id="empty-kept-raw"),
]


@pytest.mark.parametrize(("headers", "prefix", "expected"), CONDITIONS)
def test_conditions(headers: dict[str, str], prefix: str, expected: Conditions) -> None:
    assert conditions(headers, prefix) == expected


STORED = [
    pytest.param(
        {"content-type": "application/jsonl", "cache-control": "no-cache", "expires": "x"},
        {"content-type": "application/jsonl", "cache-control": "no-cache", "expires": "x"},
        id="content-headers",
    ),
    pytest.param(
        {"x-amz-meta-run": "42", "x-amz-tagging": "a=b", "x-amz-storage-class": "STANDARD"},
        {"x-amz-meta-run": "42", "x-amz-tagging": "a=b", "x-amz-storage-class": "STANDARD"},
        id="metadata-tagging-class",
    ),
    pytest.param(
        {
            "authorization": "AWS4-HMAC-SHA256 Credential=…",
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "x-amz-checksum-crc32": "AAAAAA==",
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": "5",
            "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==",
            "content-length": "5",
            "transfer-encoding": "chunked",
            "x-amz-security-token": "token",
            "host": "gw",
        },
        {},
        id="signing-checksum-transfer-dropped",
    ),
    pytest.param(
        {"x-amz-meta-s3gate-masked": "forged", "x-amz-meta-s3gate-": "x", "x-amz-meta-ok": "1"},
        {"x-amz-meta-ok": "1"},
        id="gateway-stamp-dropped",
    ),
    pytest.param({"content-encoding": "aws-chunked"}, {}, id="aws-chunked-only-dropped"),
    pytest.param(
        {"content-encoding": "aws-chunked,gzip"},
        {"content-encoding": "gzip"},
        id="aws-chunked-stripped",
    ),
    pytest.param(
        {"x-amz-meta-k": "a" * (MAX_USER_METADATA_BYTES - 1)},
        {"x-amz-meta-k": "a" * (MAX_USER_METADATA_BYTES - 1)},
        id="metadata-at-the-limit",
    ),
    pytest.param(
        {"x-amz-meta-s3gate-big": "a" * 5000, "x-amz-meta-k": "v"},
        {"x-amz-meta-k": "v"},
        id="dropped-stamp-not-counted",
    ),
]


@pytest.mark.parametrize(("headers", "expected"), STORED)
def test_stored_metadata(headers: dict[str, str], expected: dict[str, str]) -> None:
    assert stored_metadata(headers) == expected


TOO_LARGE = [
    pytest.param({"x-amz-meta-k": "a" * MAX_USER_METADATA_BYTES}, id="one-byte-over"),
    pytest.param({f"x-amz-meta-k{i}": "a" * 100 for i in range(20)}, id="many-small-entries"),
    # Values count in bytes: 683 three-byte characters are 2049 bytes.
    pytest.param({"x-amz-meta-": "€" * 683}, id="multibyte-value"),
]


@pytest.mark.parametrize("headers", TOO_LARGE)
def test_metadata_over_2kb_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(errors.MetadataTooLarge):
        stored_metadata(headers)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("aws-chunked", None, id="alone"),
        pytest.param(" aws-chunked , ", None, id="alone-with-blanks"),
        pytest.param("gzip,aws-chunked,br", "gzip,br", id="middle"),
        pytest.param("gzip", "gzip", id="absent-verbatim"),
        pytest.param("", "", id="empty-verbatim"),
        pytest.param("aws-chunked-ish", "aws-chunked-ish", id="not-a-prefix-match"),
    ],
)
def test_without_aws_chunked(sent: str, kept: str | None) -> None:
    assert without_aws_chunked(sent) == kept


@pytest.mark.parametrize(
    ("when", "text"),
    [
        pytest.param(
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z", id="whole"
        ),
        pytest.param(
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            "2026-12-31T23:59:59.999Z",
            id="milliseconds-truncated",
        ),
        pytest.param(
            datetime(1999, 7, 8, 9, 10, 11, 1000, tzinfo=UTC),
            "1999-07-08T09:10:11.001Z",
            id="one-ms",
        ),
    ],
)
def test_iso_date(when: datetime, text: str) -> None:
    assert iso_date(when) == text


MODIFIED = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)

OBJECT_HEADERS = [
    pytest.param(
        ObjectHead(5, '"e"', MODIFIED),
        {
            "etag": '"e"',
            "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "accept-ranges": "bytes",
            "content-type": "binary/octet-stream",
        },
        id="bare-object-default-type",
    ),
    pytest.param(
        ObjectHead(
            5,
            '"e-2"',
            MODIFIED,
            metadata={"content-type": "application/jsonl", "x-amz-meta-run": "42"},
            version_id="v1",
            parts_count=2,
        ),
        {
            "etag": '"e-2"',
            "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "accept-ranges": "bytes",
            "content-type": "application/jsonl",
            "x-amz-meta-run": "42",
            "x-amz-version-id": "v1",
            "x-amz-mp-parts-count": "2",
        },
        id="metadata-version-parts",
    ),
    pytest.param(
        ObjectHead(5, '"e"', MODIFIED, tag_count=3),
        {
            "etag": '"e"',
            "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "accept-ranges": "bytes",
            "content-type": "binary/octet-stream",
            "x-amz-tagging-count": "3",
        },
        id="tag-count",
    ),
    pytest.param(
        ObjectHead(5, '"e"', MODIFIED, tag_count=0),
        {
            "etag": '"e"',
            "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "accept-ranges": "bytes",
            "content-type": "binary/octet-stream",
        },
        id="no-tags-no-header",
    ),
]


@pytest.mark.parametrize(("head", "expected"), OBJECT_HEADERS)
def test_object_headers(head: ObjectHead, expected: dict[str, str]) -> None:
    got = object_headers(head)
    assert got == expected
    assert "content-length" not in got


OVERRIDES = [
    pytest.param({}, {"content-type": "text/plain"}, id="none"),
    pytest.param(
        {
            "response-content-type": "application/json",
            "response-content-language": "fr",
            "response-expires": "Thu, 01 Jan 2037 00:00:00 GMT",
            "response-cache-control": "no-store",
            "response-content-disposition": 'attachment; filename="t.jsonl"',
            "response-content-encoding": "identity",
        },
        {
            "content-type": "application/json",
            "content-language": "fr",
            "expires": "Thu, 01 Jan 2037 00:00:00 GMT",
            "cache-control": "no-store",
            "content-disposition": 'attachment; filename="t.jsonl"',
            "content-encoding": "identity",
        },
        id="all-six",
    ),
    # Only the six documented parameters: nothing else becomes a header.
    pytest.param(
        {"response-etag": "x", "response-x-amz-meta-a": "b", "content-type": "evil"},
        {"content-type": "text/plain"},
        id="others-ignored",
    ),
]


@pytest.mark.parametrize(("query", "expected"), OVERRIDES)
def test_apply_overrides(query: dict[str, str], expected: dict[str, str]) -> None:
    headers = {"content-type": "text/plain"}
    apply_overrides(headers, query)
    assert headers == expected
