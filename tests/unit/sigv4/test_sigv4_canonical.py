"""S3 canonicalisation rules, one edge at a time."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.sigv4.canonical import (
    canonical_headers,
    canonical_query,
    canonical_uri,
    signing_key,
    uri_encode,
)


@pytest.mark.parametrize(
    ("value", "slash", "expected"),
    [
        ("AZaz09-._~", True, "AZaz09-._~"),
        (" ", True, "%20"),
        ("+", True, "%2B"),
        ("a/b", True, "a%2Fb"),
        ("a/b", False, "a/b"),
        ("!'()*", True, "%21%27%28%29%2A"),
        ("\u1234", True, "%E1%88%B4"),
        ("%", True, "%25"),
    ],
)
def test_uri_encode(value: str, slash: bool, expected: str) -> None:
    assert uri_encode(value, encode_slash=slash) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "/"),
        (b"/", "/"),
        (b"/bkt/a b", "/bkt/a%20b"),
        (b"/bkt/a%20b", "/bkt/a%20b"),
        (b"/bkt/a%2520b", "/bkt/a%2520b"),  # decoded once only: no double decoding
        (b"/bkt/a/../b/./c//d/", "/bkt/a/../b/./c//d/"),  # no dot-segment normalisation
        (b"/bkt/%7e~%2a*", "/bkt/~~%2A%2A"),  # escapes normalised both ways
        (b"/bkt/\xe1\x88\xb4", "/bkt/%E1%88%B4"),  # raw UTF-8 on the wire
        (b"/bkt/%ff", "/bkt/%FF"),  # not UTF-8, still canonical
        (b"/bkt/a+b=c", "/bkt/a%2Bb%3Dc"),
    ],
)
def test_canonical_uri(raw: bytes, expected: str) -> None:
    assert canonical_uri(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ""),
        (b"uploads", "uploads="),
        (b"list-type=2&prefix=a%2Fb", "list-type=2&prefix=a%2Fb"),
        (b"prefix=a/b&list-type=2", "list-type=2&prefix=a%2Fb"),
        (b"b=2&a=1&a=", "a=&a=1&b=2"),
        (b"a+b=c+d", "a%2Bb=c%2Bd"),  # '+' is not a space in S3
        (b"x=%2f%7E", "x=%2F~"),
        (b"a=1&&b=2&", "a=1&b=2"),
        (b"Zeta=1&alpha=2&Alpha=3", "Alpha=3&Zeta=1&alpha=2"),
        (b"k=a=b", "k=a%3Db"),
    ],
)
def test_canonical_query(raw: bytes, expected: str) -> None:
    assert canonical_query(raw) == expected


def test_canonical_query_drop() -> None:
    raw = b"X-Amz-Signature=abc&X-Amz-Date=1&x-amz-signature=keep"
    assert canonical_query(raw, drop="X-Amz-Signature") == "X-Amz-Date=1&x-amz-signature=keep"


def test_canonical_headers() -> None:
    headers = [
        ("host", "gw.test"),
        ("x-multi", "  a  "),
        ("x-spaces", "a   b \t c"),
        ("x-multi", "b"),
        ("x-unsigned", "ignored"),
    ]
    assert canonical_headers(headers, ("host", "x-multi", "x-spaces")) == (
        "host:gw.test\nx-multi:a,b\nx-spaces:a b c\n"
    )


def test_canonical_headers_missing_signed_header() -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        canonical_headers([("host", "gw.test")], ("host", "range"))


def test_signing_key_reference() -> None:
    # The derived-key example from the AWS General Reference (IAM, 20120215).
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
