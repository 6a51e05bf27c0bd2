"""What the public S3 suite (ceph/s3-tests) found, fixed, end to end: a
`Date` in `-0000`, `Content-Encoding` kept verbatim, OPTIONS answered as S3,
ACL reads and refusals, ListObjectVersions of an unversioned bucket."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.harness import Gateway

OWNER = "s3gate"


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status_of(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def _access_line(gateway: Gateway, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in gateway.log().splitlines():
            if line.startswith("{") and request_id in line:
                entry: dict[str, Any] = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


def _absent(direct: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        direct.head_object(Bucket=bucket, Key=key)
    assert status_of(exc) == 404


# --- Date header in RFC 2822 "-0000" ------------------------------------------------


def test_date_header_in_minus_0000_is_utc(gateway: Gateway, bucket: str, direct: Any) -> None:
    """botocore's pure-Python signer, given a `Date` header, signs with
    `Date: … -0000` and no x-amz-date (s3-tests does this); that is UTC."""
    request = rawhttp.sign(gateway, "PUT", f"/{bucket}/dated", body=b"when", headers={"Date": "x"})
    assert request.headers["Date"].endswith("-0000")
    assert "X-Amz-Date" not in request.headers
    resp = rawhttp.send(request)
    assert resp.status == 200, resp.data
    assert direct.get_object(Bucket=bucket, Key="dated")["Body"].read() == b"when"


# --- Content-Encoding ------------------------------------------------------------------


@pytest.mark.parametrize("over", ["http", "https"])  # https: aws-chunked + CRC32 trailer
def test_content_encoding_is_stored_verbatim(
    over: str, gateway: Gateway, tls_gateway: Gateway, direct: Any
) -> None:
    gw = gateway if over == "http" else tls_gateway
    client = gw.client("admin")
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    try:
        client.put_object(
            Bucket=bucket, Key="enc", Body=b"x" * 100, ContentEncoding="deflate, gzip"
        )
        assert client.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"
        assert direct.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"
    finally:
        direct.delete_object(Bucket=bucket, Key="enc")
        direct.delete_bucket(Bucket=bucket)


# --- OPTIONS -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/{bucket}", "/{bucket}/some/key", "/"])
def test_options_without_cors_is_an_s3_error(gateway: Gateway, bucket: str, path: str) -> None:
    """No CORS rules for the bucket: S3's 403 AccessForbidden, as XML, with a
    request id and an access-log line (was Starlette's plain-text 405)."""
    resp = urllib3.request(
        "OPTIONS",
        gateway.endpoint + path.format(bucket=bucket),
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        retries=False,
    )
    assert resp.status == 403
    assert resp.headers["content-type"] == "application/xml"
    assert b"<Code>AccessForbidden</Code>" in resp.data
    assert b"CORS is not enabled for this bucket" in resp.data
    request_id = resp.headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>".encode() in resp.data
    assert "access-control-allow-origin" not in resp.headers
    entry = _access_line(gateway, request_id)
    assert (entry["operation"], entry["status"], entry["error"]) == (
        "PreflightCORS",
        403,
        "AccessForbidden",
    )


def test_options_without_origin_is_bad_request(gateway: Gateway, bucket: str) -> None:
    resp = urllib3.request("OPTIONS", f"{gateway.endpoint}/{bucket}", retries=False)
    assert resp.status == 400
    assert b"<Code>BadRequest</Code>" in resp.data


# --- ACLs ----------------------------------------------------------------------------


def _private(acl: dict[str, Any]) -> None:
    assert acl["Owner"]["ID"] == OWNER
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [
        (OWNER, "FULL_CONTROL")
    ]


def test_acl_reads_answer_the_private_acl(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    _private(s3.get_object_acl(Bucket=bucket, Key="k"))
    _private(s3.get_bucket_acl(Bucket=bucket))
    with pytest.raises(ClientError) as exc:
        s3.get_object_acl(Bucket=bucket, Key="missing")
    assert code_of(exc) in ("NoSuchKey", "404")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_acl(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    assert status_of(exc) == 404


def test_private_acls_are_accepted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="p", Body=b"1", ACL="private")
    s3.put_object(Bucket=bucket, Key="q", Body=b"1", ACL="bucket-owner-full-control")
    s3.put_object_acl(Bucket=bucket, Key="p", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_object_acl(
        Bucket=bucket,
        Key="p",
        AccessControlPolicy={
            "Owner": {"ID": OWNER},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"}
            ],
        },
    )
    _private(s3.get_object_acl(Bucket=bucket, Key="p"))


@pytest.mark.parametrize(
    "extra",
    [
        {"ACL": "public-read"},
        {"ACL": "authenticated-read"},
        {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        {"GrantFullControl": 'id="someone-else"'},
    ],
)
def test_wider_acls_on_writes_are_refused_and_nothing_is_stored(
    s3: Any, bucket: str, direct: Any, extra: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="public", Body=b"secret", **extra)
    assert (code_of(exc), status_of(exc)) == ("AccessControlListNotSupported", 400)
    _absent(direct, bucket, "public")
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="public-mp", **extra)
    assert code_of(exc) == "AccessControlListNotSupported"
    assert direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    s3.put_object(Bucket=bucket, Key="src", Body=b"s")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/src", **extra)
    assert code_of(exc) == "AccessControlListNotSupported"
    _absent(direct, bucket, "copy")


def test_public_bucket_is_refused_and_not_created(s3: Any, direct: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, ACL="public-read-write")
    assert code_of(exc) == "AccessControlListNotSupported"
    assert name not in {b["Name"] for b in direct.list_buckets()["Buckets"]}


def test_put_acl_granting_more_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    for call in (
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        lambda: s3.put_object_acl(
            Bucket=bucket,
            Key="k",
            AccessControlPolicy={
                "Owner": {"ID": OWNER},
                "Grants": [
                    {
                        "Grantee": {
                            "Type": "Group",
                            "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                        },
                        "Permission": "READ",
                    }
                ],
            },
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "AccessControlListNotSupported"
    _private(s3.get_object_acl(Bucket=bucket, Key="k"))


def test_acl_operations_are_policed(gateway: Gateway, s3: Any, bucket: str) -> None:
    """ACL reads are reads: a principal that may not read gets AccessDenied;
    nobody changes an ACL in the audit bucket."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    reader = gateway.client("reader")  # no read permit outside `traces`
    with pytest.raises(ClientError) as exc:
        reader.get_object_acl(Bucket=bucket, Key="k")
    assert code_of(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        reader.get_bucket_acl(Bucket=bucket)
    assert code_of(exc) == "AccessDenied"
    _private(s3.get_bucket_acl(Bucket="audit"))  # a read: allowed there
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_acl(Bucket="audit", ACL="private")
    assert code_of(exc) == "AccessDenied"


# --- ListObjectVersions of an unversioned bucket ---------------------------------------


@pytest.fixture
def three(s3: Any, bucket: str) -> Iterator[str]:
    for key in ("a", "b/1", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    yield bucket


def test_list_object_versions_of_an_unversioned_bucket(s3: Any, three: str) -> None:
    listing = s3.list_object_versions(Bucket=three)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [
        ("a", "null", True),
        ("b/1", "null", True),
        ("c", "null", True),
    ]
    assert "DeleteMarkers" not in listing
    assert listing["Versions"][0]["Size"] == 1
    grouped = s3.list_object_versions(Bucket=three, Delimiter="/")
    assert [v["Key"] for v in grouped["Versions"]] == ["a", "c"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["b/"]


def test_list_object_versions_pages(s3: Any, three: str) -> None:
    seen, kwargs = [], {"Bucket": three, "MaxKeys": 1}
    for _ in range(5):
        page = s3.list_object_versions(**kwargs)
        seen += [v["Key"] for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        assert page["NextVersionIdMarker"] == "null"
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker="null")
    assert seen == ["a", "b/1", "c"]


def test_delete_objects_with_version_null(s3: Any, three: str, direct: Any) -> None:
    """s3-tests' cleanup: list versions, delete them by (key, "null")."""
    versions = s3.list_object_versions(Bucket=three)["Versions"]
    done = s3.delete_objects(
        Bucket=three,
        Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]},
    )
    assert "Errors" not in done
    assert direct.list_objects_v2(Bucket=three)["KeyCount"] == 0
    # Any other version id is the store's to answer (there is no such version).
    other = s3.delete_objects(Bucket=three, Delete={"Objects": [{"Key": "a", "VersionId": "v1"}]})
    answered = other.get("Deleted", []) + other.get("Errors", [])
    assert [(d["Key"], d.get("VersionId")) for d in answered] == [("a", "v1")]


def test_list_object_versions_is_filtered_like_listings(
    gateway: Gateway, s3: Any, three: str, direct: Any
) -> None:
    """The same visibility as ListObjects: the gateway's internal keys are
    never shown, and a principal without list gets AccessDenied."""
    direct.put_object(Bucket=three, Key=".s3gate/staging/hidden", Body=b"internal")
    plain = [o["Key"] for o in s3.list_objects(Bucket=three)["Contents"]]
    versions = [v["Key"] for v in s3.list_object_versions(Bucket=three)["Versions"]]
    assert versions == plain == ["a", "b/1", "c"]
    direct.delete_object(Bucket=three, Key=".s3gate/staging/hidden")
    for who in ("reader", "writer"):  # static keys without a role: no list permit
        with pytest.raises(ClientError) as exc:
            gateway.client(who).list_object_versions(Bucket=three)
        assert code_of(exc) == "AccessDenied"


def test_bucket_versioning_is_the_stores(s3: Any, bucket: str, direct: Any) -> None:
    """s3-tests' versioning fixtures: the state is read and set at the store
    (object versions themselves: tests/e2e/test_versions.py)."""
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert direct.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


# --- Conditional writes: refused, never silently ignored ---------------------------------


@pytest.mark.parametrize("condition", [{"IfNoneMatch": "*"}, {"IfMatch": '"0123abcd"'}])
def test_conditional_put_is_refused_not_ignored(
    s3: Any, bucket: str, direct: Any, condition: dict[str, str]
) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", **condition)
    assert code_of(exc) == "NotImplemented"
    assert direct.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", **condition)
    assert code_of(exc) == "NotImplemented"
    _absent(direct, bucket, "new")


def test_empty_continuation_token_lists_from_the_start(s3: Any, three: str) -> None:
    listing = s3.list_objects_v2(Bucket=three, ContinuationToken="")
    assert listing["ContinuationToken"] == ""
    assert [o["Key"] for o in listing["Contents"]] == ["a", "b/1", "c"]


def test_utf8_metadata_is_signed_and_stored_as_sent(
    gateway: Gateway, bucket: str, direct: Any
) -> None:
    """SDKs send a non-ASCII header value as UTF-8 bytes and sign those bytes
    (s3-tests' test_object_set_get_unicode_metadata): was SignatureDoesNotMatch."""
    request = rawhttp.sign(
        gateway,
        "PUT",
        f"/{bucket}/meta",
        body=b"bar",
        headers={"x-amz-meta-meta1": "Hello World\xe9"},
    )
    prepared = request.prepare()
    headers = {
        k: (v.encode("utf-8") if k.lower() == "x-amz-meta-meta1" else v)
        for k, v in prepared.headers.items()
    }
    resp = urllib3.request("PUT", prepared.url, body=prepared.body, headers=headers, retries=False)
    assert resp.status == 200, resp.data
    got = gateway.client("admin").head_object(Bucket=bucket, Key="meta")["Metadata"]["meta1"]
    assert got == "Hello World\xe9"
