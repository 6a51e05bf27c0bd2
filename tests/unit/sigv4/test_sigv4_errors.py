"""Every S3 error the sigv4 package can raise, one table row each.

Requests are signed by botocore at a fixed time and then broken in exactly one
way. Body rows also assert the withholding property: a consumer collecting the
yielded bytes never receives the whole declared body when a check fails, and
what it did receive is a genuine prefix of it.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3gate import errors
from s3gate.sigv4 import VerifiedBody, open_body
from tests.unit.sigv4.sigv4_helpers import (
    ACCESS_KEY,
    SECRET,
    T0,
    Wire,
    authenticate,
    b64,
    body_auth,
    drain,
    fixed_signing,
    sign_chunked,
    source,
    split_every,
    unsigned_chunked,
    wire_from_url,
)

URL = "http://gw.test/bkt/obj%20key?list-type=2&prefix=a%2Fb"


def signed(*, method: str = "GET", url: str = URL, headers: dict[str, str] | None = None) -> Wire:
    request = AWSRequest(method=method, url=url, headers=headers or {"Range": "bytes=0-9"})
    with patch("botocore.auth.get_current_datetime", return_value=T0.replace(tzinfo=None)):
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return wire_from_url(prepared.method, prepared.url, prepared.headers.items(), b"")


def presigned(expires: int = 3600) -> Wire:
    request = AWSRequest(method="GET", url=URL)
    with patch("botocore.auth.get_current_datetime", return_value=T0.replace(tzinfo=None)):
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires).add_auth(
            request
        )
    return wire_from_url("GET", request.url, [], b"")


def with_auth(wire: Wire, old: str, new: str) -> Wire:
    value = wire.header("authorization")
    assert value is not None and old in value
    return wire.replace_header("authorization", value.replace(old, new, 1))


def without(wire: Wire, name: str) -> Wire:
    return Wire(
        wire.method, wire.raw_path, wire.raw_query, [h for h in wire.headers if h[0] != name]
    )


def adding(wire: Wire, name: str, value: str) -> Wire:
    return Wire(wire.method, wire.raw_path, wire.raw_query, [*wire.headers, (name, value)])


def query(wire: Wire, raw: bytes) -> Wire:
    return Wire(wire.method, wire.raw_path, raw, wire.headers)


def query_edit(wire: Wire, old: bytes, new: bytes) -> Wire:
    assert old in wire.raw_query
    return query(wire, wire.raw_query.replace(old, new, 1))


def query_drop(wire: Wire, name: str) -> Wire:
    kept = [p for p in wire.raw_query.split(b"&") if not p.startswith(name.encode() + b"=")]
    return query(wire, b"&".join(kept))


BASE = signed()
SIGNATURE = BASE.header("authorization").rsplit("=", 1)[1]  # type: ignore[union-attr]
SCOPE_DATE = T0.strftime("%Y%m%d")
PRE = presigned()


@dataclass
class Row:
    wire: Wire
    error: type[errors.S3Error]
    match: str = ""
    now: Any = T0
    secret: str = SECRET
    extra: dict[str, str] = field(default_factory=dict)


AUTH_ROWS: dict[str, Row] = {
    # Clock.
    "skew-ahead": Row(
        BASE,
        errors.RequestTimeTooSkewed,
        now=T0 + timedelta(minutes=15, seconds=1),
        extra={"MaxAllowedSkewMilliseconds": "900000"},
    ),
    "skew-behind": Row(BASE, errors.RequestTimeTooSkewed, now=T0 - timedelta(minutes=16)),
    "presign-expired": Row(
        presigned(60),
        errors.AccessDenied,
        "Request has expired",
        now=T0 + timedelta(seconds=61),
        extra={"X-Amz-Expires": "60"},
    ),
    "presign-not-yet-valid": Row(
        PRE, errors.AccessDenied, "Request is not valid yet", now=T0 - timedelta(minutes=16)
    ),
    "presign-expires-over-a-week": Row(
        presigned(604801), errors.AuthorizationQueryParametersError, "less than a week"
    ),
    "presign-expires-zero": Row(
        query_edit(PRE, b"X-Amz-Expires=3600", b"X-Amz-Expires=0"),
        errors.AuthorizationQueryParametersError,
    ),
    "presign-expires-not-a-number": Row(
        query_edit(PRE, b"X-Amz-Expires=3600", b"X-Amz-Expires=1e3"),
        errors.AuthorizationQueryParametersError,
        "number",
    ),
    # int() raises ValueError past 4300 digits: refused as not a number, not a 500.
    "presign-expires-5000-digits": Row(
        query_edit(PRE, b"X-Amz-Expires=3600", b"X-Amz-Expires=" + b"9" * 5000),
        errors.AuthorizationQueryParametersError,
        "number",
    ),
    # Unsupported mechanisms.
    "sigv2-header": Row(
        adding(without(BASE, "authorization"), "authorization", "AWS AKID:c2lnbmF0dXJl"),
        errors.InvalidRequest,
        "AWS4-HMAC-SHA256",
    ),
    "sigv4a-header": Row(
        with_auth(BASE, "AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 "),
        errors.InvalidRequest,
        "not supported",
    ),
    "sigv4a-presign": Row(
        query_edit(
            PRE, b"X-Amz-Algorithm=AWS4-HMAC-SHA256", b"X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"
        ),
        errors.InvalidRequest,
        "not supported",
    ),
    "sigv2-presign": Row(
        Wire(
            "GET", b"/bkt/k", b"AWSAccessKeyId=AK&Signature=c2ln&Expires=1", [("host", "gw.test")]
        ),
        errors.InvalidRequest,
        "not supported",
    ),
    "header-and-query-auth": Row(
        query(BASE, BASE.raw_query + b"&X-Amz-Signature=" + b"0" * 64),
        errors.InvalidArgument,
        "Only one auth mechanism allowed",
    ),
    # Malformed Authorization header.
    "no-credential": Row(
        with_auth(BASE, f"Credential={ACCESS_KEY}/{SCOPE_DATE}/us-east-1/s3/aws4_request, ", ""),
        errors.AuthorizationHeaderMalformed,
        "Credential",
    ),
    "no-signed-headers": Row(
        with_auth(BASE, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ", ""),
        errors.AuthorizationHeaderMalformed,
        "SignedHeaders",
    ),
    "no-signature": Row(
        with_auth(BASE, f", Signature={SIGNATURE}", ""),
        errors.AuthorizationHeaderMalformed,
        "Signature",
    ),
    "credential-four-parts": Row(
        with_auth(BASE, "/us-east-1/s3/aws4_request", "/us-east-1/aws4_request"),
        errors.AuthorizationHeaderMalformed,
    ),
    "credential-six-parts": Row(
        with_auth(BASE, "/s3/aws4_request", "/s3/x/aws4_request"),
        errors.AuthorizationHeaderMalformed,
    ),
    "credential-terminal": Row(
        with_auth(BASE, "aws4_request", "aws5_request"),
        errors.AuthorizationHeaderMalformed,
        "aws4_request",
    ),
    # The scope's service must be s3 (a signature for STS, or for a made-up
    # service, is not an S3 signature), with S3's own wording.
    **{
        f"credential-service-{service}": Row(
            with_auth(BASE, "/us-east-1/s3/aws4_request", f"/us-east-1/{service}/aws4_request"),
            errors.AuthorizationHeaderMalformed,
            f'incorrect service "{service}". This endpoint belongs to "s3"',
        )
        for service in ("sts", "b", "S3", "s3x", "iam")
    },
    "credential-date-not-a-date": Row(
        with_auth(BASE, f"/{SCOPE_DATE}/", "/2026-3-4/"), errors.AuthorizationHeaderMalformed
    ),
    "scope-date-not-request-date": Row(
        with_auth(BASE, f"/{SCOPE_DATE}/", "/20260303/"),
        errors.AuthorizationHeaderMalformed,
        "does not match",
    ),
    "signature-short": Row(
        with_auth(BASE, f"Signature={SIGNATURE}", f"Signature={SIGNATURE[:-1]}"),
        errors.AuthorizationHeaderMalformed,
    ),
    "signature-not-hex": Row(
        with_auth(BASE, f"Signature={SIGNATURE}", "Signature=" + "g" * 64),
        errors.AuthorizationHeaderMalformed,
    ),
    "signed-headers-unsorted": Row(
        with_auth(BASE, "host;range;", "range;host;"), errors.AuthorizationHeaderMalformed, "sorted"
    ),
    "signed-headers-upper-case": Row(
        with_auth(BASE, "host;range;", "host;Range;"),
        errors.AuthorizationHeaderMalformed,
        "lower-case",
    ),
    "signed-headers-without-host": Row(
        with_auth(BASE, "host;range;", "range;"), errors.AuthorizationHeaderMalformed, "host"
    ),
    "repeated-component": Row(
        with_auth(BASE, ", Signature=", ", SignedHeaders=host, Signature="),
        errors.AuthorizationHeaderMalformed,
    ),
    "unknown-component": Row(
        with_auth(BASE, ", Signature=", ", Foo=bar, Signature="),
        errors.AuthorizationHeaderMalformed,
    ),
    "no-date": Row(without(BASE, "x-amz-date"), errors.AuthorizationHeaderMalformed, "x-amz-date"),
    "bad-x-amz-date": Row(
        BASE.replace_header("x-amz-date", "2026-03-04T05:06:07Z"),
        errors.AuthorizationHeaderMalformed,
    ),
    "bad-date-header": Row(
        adding(without(BASE, "x-amz-date"), "date", "yesterday"),
        errors.AuthorizationHeaderMalformed,
    ),
    "date-header-without-zone": Row(
        adding(without(BASE, "x-amz-date"), "date", "Wed, 04 Mar 2026 05:06:07"),
        errors.AuthorizationHeaderMalformed,
        "no time zone",
    ),
    # Malformed presigned query.
    **{
        f"presign-missing-{name}": Row(
            query_drop(PRE, name), errors.AuthorizationQueryParametersError, "requires"
        )
        for name in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
    },
    "presign-bad-credential": Row(
        query_edit(PRE, b"%2Fs3%2Faws4_request", b"%2Faws4_request"),
        errors.AuthorizationQueryParametersError,
    ),
    **{
        f"presign-credential-service-{service}": Row(
            query_edit(PRE, b"%2Fs3%2Faws4_request", f"%2F{service}%2Faws4_request".encode()),
            errors.AuthorizationQueryParametersError,
            "Error parsing the X-Amz-Credential parameter; "
            f'incorrect service "{service}". This endpoint belongs to "s3"',
        )
        for service in ("sts", "a", "S3")
    },
    "presign-bad-date": Row(
        query_edit(PRE, b"X-Amz-Date=", b"X-Amz-Date=x"), errors.AuthorizationQueryParametersError
    ),
    # Payload hash header.
    "missing-x-amz-content-sha256": Row(
        without(BASE, "x-amz-content-sha256"),
        errors.InvalidRequest,
        "Missing required header for this request: x-amz-content-sha256",
    ),
    "x-amz-content-sha256-not-hex": Row(
        BASE.replace_header("x-amz-content-sha256", "abc"), errors.InvalidArgument
    ),
    "x-amz-content-sha256-upper-case": Row(
        BASE.replace_header("x-amz-content-sha256", "E3B0" + "0" * 60), errors.InvalidArgument
    ),
    "x-amz-content-sha256-sigv4a-streaming": Row(
        BASE.replace_header(
            "x-amz-content-sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
        ),
        errors.NotImplementedError_,
    ),
    # Signature checks.
    "unsigned-x-amz-header": Row(
        adding(BASE, "x-amz-meta-extra", "1"),
        errors.AccessDenied,
        "not signed",
        extra={"HeadersNotSigned": "x-amz-meta-extra"},
    ),
    "presign-unsigned-x-amz-header": Row(
        adding(PRE, "x-amz-acl", "public-read"), errors.AccessDenied, "not signed"
    ),
    "wrong-secret": Row(BASE, errors.SignatureDoesNotMatch, secret=SECRET + "!"),
    "tampered-header": Row(
        BASE.replace_header("range", "bytes=0-99"), errors.SignatureDoesNotMatch
    ),
    "missing-signed-header": Row(without(BASE, "range"), errors.SignatureDoesNotMatch),
    "tampered-query-value": Row(query_edit(BASE, b"a%2Fb", b"a%2Fc"), errors.SignatureDoesNotMatch),
    "added-query-parameter": Row(
        query(BASE, BASE.raw_query + b"&max-keys=1"), errors.SignatureDoesNotMatch
    ),
    "tampered-path": Row(
        Wire("GET", b"/bkt/obj%20kez", BASE.raw_query, BASE.headers), errors.SignatureDoesNotMatch
    ),
    "tampered-method": Row(
        Wire("DELETE", BASE.raw_path, BASE.raw_query, BASE.headers), errors.SignatureDoesNotMatch
    ),
    "presign-tampered-query": Row(
        query(PRE, PRE.raw_query + b"&response-content-type=text%2Fhtml"),
        errors.SignatureDoesNotMatch,
    ),
}


def test_base_requests_are_valid() -> None:
    authenticate(BASE, now=T0)
    authenticate(PRE, now=T0 + timedelta(seconds=3600))


@pytest.mark.parametrize("name", list(AUTH_ROWS))
def test_auth_error(name: str) -> None:
    row = AUTH_ROWS[name]
    with pytest.raises(row.error, match=row.match or None) as caught:
        authenticate(row.wire, secret=row.secret, now=row.now)
    error = caught.value
    assert type(error) is row.error
    for key, value in row.extra.items():
        assert error.extra[key] == value
    # Whatever went wrong, the client's signature is never echoed back.
    rendered = error.to_xml("req-1").decode()
    assert SIGNATURE not in rendered
    assert PRE.raw_query.split(b"X-Amz-Signature=")[1].decode() not in rendered


def test_date_header_in_minus_0000_is_utc() -> None:
    """botocore signs a request that carries `Date` with an RFC 2822 date in
    `-0000` (formatdate without usegmt): that is UTC, not "no time zone"."""
    wire = signed(headers={"Date": "x", "Range": "bytes=0-9"})
    assert wire.header("date").endswith("-0000")
    assert wire.header("x-amz-date") is None
    authenticate(wire, now=T0)
    with pytest.raises(errors.RequestTimeTooSkewed):
        authenticate(wire, now=T0 + timedelta(hours=1))


def test_skew_error_reports_both_times() -> None:
    with pytest.raises(errors.RequestTimeTooSkewed) as caught:
        authenticate(BASE, now=T0 + timedelta(hours=1))
    assert caught.value.extra["RequestTime"] == "Wed, 04 Mar 2026 05:06:07 GMT"
    assert caught.value.extra["ServerTime"] == "2026-03-04T06:06:07Z"


def test_clock_edges_are_inclusive() -> None:
    authenticate(BASE, now=T0 + timedelta(minutes=15))
    authenticate(BASE, now=T0 - timedelta(minutes=15))
    authenticate(PRE, now=T0 - timedelta(minutes=15))


# -- body rows ----------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 64  # 16 KiB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
PAYLOAD_MD5 = b64(hashlib.md5(PAYLOAD, usedforsecurity=False).digest())
CRC32 = b64(zlib.crc32(PAYLOAD).to_bytes(4, "big"))
CHUNKS = [PAYLOAD[i : i + 4096] for i in range(0, len(PAYLOAD), 4096)]
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


@dataclass
class BodyRow:
    mode: str
    headers: list[tuple[str, str]]
    raw: bytes
    error: type[errors.S3Error]
    at_open: bool = False  # refused before any byte is read
    declared: int = len(PAYLOAD)
    tampered: bool = False  # the raw body itself was altered, so no genuine prefix


def plain(extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("content-length", str(len(PAYLOAD))), *extra]


def chunked(extra: list[tuple[str, str]], length: int = len(PAYLOAD)) -> list[tuple[str, str]]:
    return [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(length)),
        *extra,
    ]


TRAILER_HEADER = [("x-amz-trailer", "x-amz-checksum-crc32")]
SIGNING = fixed_signing()
GOOD_SIGNED = sign_chunked(SIGNING, CHUNKS)


def _flip_chunk_signature(body: bytes, index: int) -> bytes:
    marker = b"chunk-signature="
    pos = -1
    for _ in range(index + 1):
        pos = body.index(marker, pos + 1)
    at = pos + len(marker)
    return body[:at] + (b"0" if body[at : at + 1] != b"0" else b"1") + body[at + 1 :]


BODY_ROWS: dict[str, BodyRow] = {
    "payload-hash-mismatch": BodyRow(
        hashlib.sha256(b"other").hexdigest(), plain([]), PAYLOAD, errors.XAmzContentSHA256Mismatch
    ),
    "content-md5-not-base64": BodyRow(
        PAYLOAD_SHA, plain([("content-md5", "not base64!")]), PAYLOAD, errors.InvalidDigest, True
    ),
    "content-md5-wrong-length": BodyRow(
        PAYLOAD_SHA, plain([("content-md5", b64(b"x" * 15))]), PAYLOAD, errors.InvalidDigest, True
    ),
    "content-md5-mismatch": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("content-md5", b64(hashlib.md5(b"other", usedforsecurity=False).digest()))]),
        PAYLOAD,
        errors.BadDigest,
    ),
    "checksum-header-not-base64": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("x-amz-checksum-crc32", "###")]),
        PAYLOAD,
        errors.InvalidDigest,
        True,
    ),
    "checksum-header-wrong-size": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("x-amz-checksum-sha256", CRC32)]),
        PAYLOAD,
        errors.InvalidDigest,
        True,
    ),
    "checksum-header-mismatch": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("x-amz-checksum-crc32c", CRC32)]),
        PAYLOAD,
        errors.BadDigest,
    ),
    "checksum-header-unknown-algorithm": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("x-amz-checksum-md4", CRC32)]),
        PAYLOAD,
        errors.InvalidRequest,
        True,
    ),
    "two-checksum-headers": BodyRow(
        "UNSIGNED-PAYLOAD",
        plain([("x-amz-checksum-crc32", CRC32), ("x-amz-checksum-crc32c", CRC32)]),
        PAYLOAD,
        errors.InvalidRequest,
        True,
    ),
    "trailer-mismatch": BodyRow(
        UNSIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", "AAAAAA==")]),
        errors.BadDigest,
    ),
    "trailer-malformed": BodyRow(
        UNSIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", "AAAA")]),
        errors.InvalidDigest,
    ),
    "trailer-missing": BodyRow(
        UNSIGNED_TRAILER, chunked(TRAILER_HEADER), unsigned_chunked(CHUNKS), errors.IncompleteBody
    ),
    "trailer-undeclared": BodyRow(
        UNSIGNED_TRAILER,
        chunked([]),
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", CRC32)]),
        errors.InvalidRequest,
    ),
    "trailer-other-than-declared": BodyRow(
        UNSIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32c", CRC32)]),
        errors.IncompleteBody,
    ),
    "trailer-declared-without-trailer-mode": BodyRow(
        PAYLOAD_SHA, plain(TRAILER_HEADER), PAYLOAD, errors.InvalidRequest, True
    ),
    "bad-chunk-signature-first": BodyRow(
        SIGNED, chunked([]), _flip_chunk_signature(GOOD_SIGNED, 0), errors.SignatureDoesNotMatch
    ),
    "bad-chunk-signature-last-data": BodyRow(
        SIGNED, chunked([]), _flip_chunk_signature(GOOD_SIGNED, 3), errors.SignatureDoesNotMatch
    ),
    "bad-chunk-signature-final": BodyRow(
        SIGNED, chunked([]), _flip_chunk_signature(GOOD_SIGNED, 4), errors.SignatureDoesNotMatch
    ),
    "chunk-data-tampered": BodyRow(
        SIGNED,
        chunked([]),
        GOOD_SIGNED.replace(CHUNKS[2][:50], b"X" * 50, 1),
        errors.SignatureDoesNotMatch,
        tampered=True,
    ),
    "chunk-signature-missing": BodyRow(
        SIGNED, chunked([]), unsigned_chunked(CHUNKS), errors.SignatureDoesNotMatch
    ),
    "bad-trailer-signature": BodyRow(
        SIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        sign_chunked(SIGNING, CHUNKS, [("x-amz-checksum-crc32", CRC32)]).replace(
            CRC32.encode(), b64(b"\0\0\0\1").encode()
        ),
        errors.SignatureDoesNotMatch,
    ),
    "signed-trailer-bad-checksum": BodyRow(
        SIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        sign_chunked(SIGNING, CHUNKS, [("x-amz-checksum-crc32", "AAAAAA==")]),
        errors.BadDigest,
    ),
    "truncated-plain": BodyRow(
        "UNSIGNED-PAYLOAD", plain([]), PAYLOAD[:-100], errors.IncompleteBody
    ),
    "truncated-chunked-mid-data": BodyRow(
        SIGNED, chunked([]), GOOD_SIGNED[: len(GOOD_SIGNED) // 2], errors.IncompleteBody
    ),
    "truncated-chunked-no-final-chunk": BodyRow(
        UNSIGNED_TRAILER,
        chunked([]),
        unsigned_chunked(CHUNKS).rsplit(b"0\r\n", 1)[0],
        errors.IncompleteBody,
    ),
    "truncated-chunked-no-final-crlf": BodyRow(
        UNSIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", CRC32)])[:-2],
        errors.IncompleteBody,
    ),
    "decoded-length-short": BodyRow(
        SIGNED,
        chunked([], length=len(PAYLOAD) + 1),
        GOOD_SIGNED,
        errors.IncompleteBody,
        declared=len(PAYLOAD) + 1,
    ),
    "decoded-length-long": BodyRow(
        SIGNED,
        chunked([], length=len(PAYLOAD) - 1),
        GOOD_SIGNED,
        errors.InvalidRequest,
        declared=len(PAYLOAD) - 1,
    ),
    "extra-bytes-plain": BodyRow(
        "UNSIGNED-PAYLOAD", plain([]), PAYLOAD + b"junk", errors.InvalidRequest
    ),
    "extra-bytes-after-chunked-end": BodyRow(
        SIGNED, chunked([]), GOOD_SIGNED + b"0\r\n\r\n", errors.InvalidRequest
    ),
    "oversize-chunk-size-line": BodyRow(
        UNSIGNED_TRAILER,
        chunked([]),
        b"1000;" + b"x" * 5000 + b"\r\n" + PAYLOAD,
        errors.InvalidRequest,
    ),
    "oversize-chunk": BodyRow(
        UNSIGNED_TRAILER, chunked([]), b"1000001\r\n" + PAYLOAD, errors.InvalidRequest
    ),
    "oversize-trailer-section": BodyRow(
        UNSIGNED_TRAILER,
        chunked(TRAILER_HEADER),
        unsigned_chunked(CHUNKS, [(f"x-pad-{i}", "v" * 100) for i in range(200)]),
        errors.InvalidRequest,
    ),
    "chunk-size-not-hex": BodyRow(
        UNSIGNED_TRAILER, chunked([]), b"0x10\r\n" + PAYLOAD, errors.InvalidRequest
    ),
    "chunk-data-not-followed-by-crlf": BodyRow(
        UNSIGNED_TRAILER,
        chunked([]),
        unsigned_chunked(CHUNKS).replace(CHUNKS[0] + b"\r\n", CHUNKS[0] + b"\n\n", 1),
        errors.InvalidRequest,
    ),
    "bare-lf-line": BodyRow(
        UNSIGNED_TRAILER,
        chunked([]),
        unsigned_chunked(CHUNKS).replace(b"1000\r\n", b"1000\n", 1),
        errors.InvalidRequest,
    ),
    "missing-decoded-content-length": BodyRow(
        UNSIGNED_TRAILER,
        [("content-encoding", "aws-chunked")],
        unsigned_chunked(CHUNKS),
        errors.MissingContentLength,
        True,
    ),
}


def _body(row: BodyRow, pieces: list[bytes]) -> VerifiedBody:
    signing = SIGNING if row.mode in (SIGNED, SIGNED_TRAILER) else None
    return open_body(body_auth(row.mode), signing, row.headers, source(pieces))


@pytest.mark.parametrize("split", [1000, 4096, 70000])
@pytest.mark.parametrize("name", list(BODY_ROWS))
async def test_body_error(name: str, split: int) -> None:
    row = BODY_ROWS[name]
    pieces = split_every(row.raw, split)
    if row.at_open:
        with pytest.raises(row.error):
            _body(row, pieces)
        return
    got, error = await drain(_body(row, pieces))
    assert type(error) is row.error, error
    # The withholding property: the consumer never saw a complete body.
    assert len(got) < row.declared
    assert len(got) < len(PAYLOAD)
    if not row.tampered:
        assert PAYLOAD.startswith(got)


@pytest.mark.parametrize(
    ("mode", "headers", "raw"),
    [
        ("UNSIGNED-PAYLOAD", plain([("content-md5", PAYLOAD_MD5)]), PAYLOAD),
        (PAYLOAD_SHA, plain([("x-amz-checksum-crc32", CRC32)]), PAYLOAD),
        ("UNSIGNED-PAYLOAD", [("x-amz-checksum-sha256", b64(bytes.fromhex(PAYLOAD_SHA)))], PAYLOAD),
        (SIGNED, chunked([]), GOOD_SIGNED),
        (
            SIGNED_TRAILER,
            chunked(TRAILER_HEADER),
            sign_chunked(SIGNING, CHUNKS, [("x-amz-checksum-crc32", CRC32)]),
        ),
        (
            UNSIGNED_TRAILER,
            chunked(TRAILER_HEADER),
            unsigned_chunked(CHUNKS, [("x-amz-checksum-crc32", CRC32)]),
        ),
        # AWS SDK for Java v2: checksum in a header *and* announced in x-amz-trailer,
        # with a signed non-trailer body and no trailer.
        (SIGNED, chunked([("x-amz-checksum-crc32", CRC32), *TRAILER_HEADER]), GOOD_SIGNED),
    ],
)
async def test_body_control_rows_pass(
    mode: str, headers: list[tuple[str, str]], raw: bytes
) -> None:
    # The same shapes as the error rows, unbroken, are accepted.
    signing = SIGNING if mode in (SIGNED, SIGNED_TRAILER) else None
    body = open_body(body_auth(mode), signing, headers, source(split_every(raw, 1000)))
    assert await drain(body) == (PAYLOAD, None)


async def test_read_all_stops_at_the_limit() -> None:
    consumed = []

    async def counting() -> AsyncIterator[bytes]:
        for piece in split_every(PAYLOAD, 1000):
            consumed.append(piece)
            yield piece

    body = open_body(body_auth("UNSIGNED-PAYLOAD"), None, [], counting())
    with pytest.raises(errors.MaxMessageLengthExceeded):
        await body.read_all(limit=2500)
    assert len(consumed) == 3  # raised as soon as the limit was passed

    declared = open_body(body_auth("UNSIGNED-PAYLOAD"), None, plain([]), counting())
    consumed.clear()
    with pytest.raises(errors.MaxMessageLengthExceeded):
        await declared.read_all(limit=100)
    assert consumed == []  # Content-Length alone was enough to refuse


async def test_read_all_within_limit() -> None:
    body = open_body(body_auth(PAYLOAD_SHA), None, plain([]), source(split_every(PAYLOAD, 333)))
    assert await body.read_all(limit=len(PAYLOAD)) == PAYLOAD
    assert body.sha256_hex == PAYLOAD_SHA


def test_body_can_only_be_iterated_once() -> None:
    body = open_body(None, None, [], source([b"x"]))
    body.__aiter__()
    with pytest.raises(RuntimeError):
        body.__aiter__()
