"""SigV2 presigned URLs as botocore's HmacV1QueryAuth produces them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3gate import errors
from s3gate.sigv4 import v2query

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def presign(url: str, *, expires: int = 3600, token: str | None = None) -> tuple[str, str]:
    request = AWSRequest(method="GET", url=url)
    HmacV1QueryAuth(Credentials("AKIDEXAMPLE", SECRET, token), expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    return parts.path, parts.query


def check(
    path: str,
    query: str,
    *,
    method: str = "GET",
    secret: str = SECRET,
    now: datetime | None = None,
    resource_path: str | None = None,
) -> None:
    pairs = parse_qsl(query, keep_blank_values=True)
    auth = v2query.parse(pairs)
    assert auth is not None
    v2query.verify(
        auth,
        secret,
        method=method,
        resource_path=resource_path or path,
        query=pairs,
        headers=[("host", "gw")],
        now=now or datetime.now(UTC),
        max_expires_seconds=604800,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://gw/bucket/key.json",
        "http://gw/bucket/with%20space/and%2Bplus.txt",
        "http://gw/bucket/%E6%97%A5%E6%9C%AC.jsonl",
        "http://gw/bucket/k?response-content-type=application%2Fjson&response-content-disposition=attachment",
    ],
)
def test_botocore_urls_verify(url: str) -> None:
    path, query = presign(url)
    check(path, query)


def test_session_token_is_signed() -> None:
    path, query = presign("http://gw/bucket/k", token="tok")
    pairs = parse_qsl(query)
    auth = v2query.parse(pairs)
    assert auth is not None and auth.security_token == "tok"
    check(path, query)
    with pytest.raises(errors.SignatureDoesNotMatch):
        check(path, query.replace("x-amz-security-token=tok", "x-amz-security-token=other"))


def test_virtual_host_signs_path_style_resource() -> None:
    _path, query = presign("http://gw/bucket/k")
    check("/k", query, resource_path="/bucket/k")


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda p, q: (p.replace("key", "other"), q), errors.SignatureDoesNotMatch),
        (
            lambda p, q: (p, re.sub(r"Expires=(\d+)", lambda m: f"Expires={int(m[1]) - 1}", q)),
            errors.SignatureDoesNotMatch,
        ),
        (lambda p, q: (p, q + "&response-content-type=text%2Fhtml"), errors.SignatureDoesNotMatch),
    ],
)
def test_tampering_is_refused(mutate, error) -> None:  # type: ignore[no-untyped-def]
    path, query = mutate(*presign("http://gw/bucket/key"))
    with pytest.raises(error):
        check(path, query)


def test_wrong_secret() -> None:
    path, query = presign("http://gw/bucket/key")
    with pytest.raises(errors.SignatureDoesNotMatch):
        check(path, query, secret="other")


def test_expired() -> None:
    path, query = presign("http://gw/bucket/key", expires=60)
    with pytest.raises(errors.AccessDenied, match="expired"):
        # The signer reads the real clock: so does the check (a module-level
        # "now" goes stale in a long suite).
        check(path, query, now=datetime.now(UTC) + timedelta(minutes=5))


def test_longer_than_the_ceiling() -> None:
    path, query = presign("http://gw/bucket/key", expires=8 * 86400)
    with pytest.raises(errors.AuthorizationQueryParametersError):
        check(path, query)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_only_downloads(method: str) -> None:
    path, query = presign("http://gw/bucket/key")
    with pytest.raises(errors.AccessDenied):
        check(path, query, method=method)


@pytest.mark.parametrize(
    "query",
    [
        "AWSAccessKeyId=A&Signature=x",
        "AWSAccessKeyId=A&Signature=x&Expires=soon",
        "AWSAccessKeyId=A&Signature=x&Expires=1&Expires=2",
        # Digits only ASCII ones, within a length (s3/numbers.py): int() read
        # "٣" as 3, and raised ValueError (a 500) on "²" or 5000 digits.
        "AWSAccessKeyId=A&Signature=x&Expires=%D9%A3",
        "AWSAccessKeyId=A&Signature=x&Expires=%C2%B2",
        "AWSAccessKeyId=A&Signature=x&Expires=" + "9" * 5000,
        "AWSAccessKeyId=A&Signature=x&Expires=" + "1" * 20,
    ],
)
def test_malformed(query: str) -> None:
    with pytest.raises(errors.AuthorizationQueryParametersError):
        v2query.parse(parse_qsl(query))


def test_not_a_v2_url() -> None:
    assert v2query.parse([("list-type", "2")]) is None


def test_unencoded_plus_in_signature() -> None:
    _path, query = presign("http://gw/bucket/key")
    pairs = parse_qsl(query)
    sig = dict(pairs)["Signature"]
    raw = [(n, v.replace("+", " ") if n == "Signature" else v) for n, v in pairs]
    auth = v2query.parse(raw)
    assert auth is not None and auth.signature == sig
