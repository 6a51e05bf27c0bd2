"""Red team, second pass (framing, S3 paths, read oracles): attacks that
tried to get a canary into the store unmasked, or to learn something about
the stored bytes from a masked view, and that the gateway withstands. Each
test is the attack; it passing is the defence holding (kept as regression
guards). The pass, what it found and what is still open: docs/threat-model.md,
"Red-team passes".

Writers are `write-default` static keys, analysts `analyst-view` (the shared
gateway of tests/e2e/test_masking.py); the store is read directly.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import urllib3
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.canaries import CARD, EMAIL, jsonl, leaks
from tests.e2e.harness import REGION, Gateway
from tests.e2e.rawhttp import send, sign
from tests.e2e.test_inspect_or_refuse import _absent, _analyst_raw, _stored
from tests.e2e.test_masking import BUCKET
from tests.e2e.test_masking import gw as gw  # the same fixture: a gateway of this module's own

# A record whose stored (write-default) form still differs from its analyst
# view: write-default keeps customer numbers, analyst-view tokenizes them.
RECORD = b'{"customer": "CUST-0042917", "note": "refund"}\n'


@pytest.fixture
def key() -> str:
    return f"redpath{uuid.uuid4().hex[:10]}/trace.jsonl"


def _creds(gw: Gateway, identity: str) -> Credentials:
    who = gw.identities[identity]
    return Credentials(who.access_key_id, who.secret_access_key)


def _port(gw: Gateway) -> int:
    return int(gw.endpoint.rsplit(":", 1)[1])


def _wire_put(gw: Gateway, key: str, body: bytes, *, version: str = "HTTP/1.1") -> bytes:
    """A signed PUT (UNSIGNED-PAYLOAD, as SDKs send over TLS) as raw bytes."""
    path = f"/{BUCKET}/{quote(key)}"
    request = AWSRequest(method="PUT", url=gw.endpoint + path, data=body)
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    S3SigV4Auth(_creds(gw, "writer"), "s3", REGION).add_auth(request)
    host = gw.endpoint.split("://", 1)[1]
    lines = [f"PUT {path} {version}", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _talk(gw: Gateway, data: bytes, answers: int = 1) -> bytes:
    """Send `data` in one write; read until `answers` responses are complete
    (by their Content-Length), the gateway closes, or 30 s pass."""
    with socket.create_connection(("127.0.0.1", _port(gw)), timeout=30) as sock:
        sock.sendall(data)
        got = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _complete(got) < answers:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
        return got


def _complete(data: bytes) -> int:
    """How many whole responses (head + Content-Length body) `data` holds."""
    count = 0
    while (end := data.find(b"\r\n\r\n")) >= 0:
        head = data[:end].decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip() == "content-length":
                length = int(value)
        if len(data) < end + 4 + length:
            break
        if not head.startswith("http/1.1 100"):
            count += 1
        data = data[end + 4 + length :]
    return count


# --- framing ---------------------------------------------------------------


def test_pipelined_puts_are_each_masked(gw: Gateway, direct: Any) -> None:
    """Two requests in one TCP segment: the second body is not passed along
    as part of the first, and both are masked."""
    k1, k2 = f"redpipe{uuid.uuid4().hex[:8]}/1.jsonl", f"redpipe{uuid.uuid4().hex[:8]}/2.jsonl"
    answer = _talk(gw, _wire_put(gw, k1, jsonl(1)) + _wire_put(gw, k2, jsonl(2)), 2)
    assert answer.count(b"HTTP/1.1 200 ") == 2, answer[:300]
    for k in (k1, k2):
        stored, _ = _stored(direct, k)
        assert stored and leaks(stored) == []


def test_content_length_shorter_than_the_body_stores_nothing(gw: Gateway, direct: Any) -> None:
    """A Content-Length that cuts the body mid-record: the rest is read as
    a second request (and refused); what the first declared is masked or
    refused, never stored raw."""
    key = f"redcl{uuid.uuid4().hex[:8]}/t.jsonl"
    body = jsonl(1)
    raw = _wire_put(gw, key, body).replace(
        f"Content-Length: {len(body)}".encode(), b"Content-Length: 40"
    )
    answer = _talk(gw, raw)
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    if b"HTTP/1.1 200 " in answer.split(b"\r\n", 1)[0]:
        stored, _ = _stored(direct, key)
        assert leaks(stored) == []
    else:
        assert _absent(direct, key)


def test_http_1_0_put_is_masked(gw: Gateway, direct: Any, key: str) -> None:
    answer = _talk(gw, _wire_put(gw, key, jsonl(1), version="HTTP/1.0"))
    assert answer.split(b"\r\n", 1)[0].endswith(b" 200 OK"), answer[:200]
    stored, _ = _stored(direct, key)
    assert leaks(stored) == []


def test_expect_100_continue_put_is_masked(gw: Gateway, direct: Any, key: str) -> None:
    raw = _wire_put(gw, key, jsonl(1))
    head, _, body = raw.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", _port(gw)), timeout=10) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        interim = sock.recv(65536)
        sock.sendall(body)
        final = interim
        sock.settimeout(5)
        while b"HTTP/1.1 200 " not in final and b"HTTP/1.1 4" not in final:
            chunk = sock.recv(65536)
            if not chunk:
                break
            final += chunk
    assert b"HTTP/1.1 200 " in final, final[:300]
    stored, _ = _stored(direct, key)
    assert leaks(stored) == []


def test_presigned_v4_put_is_masked(gw: Gateway, direct: Any, key: str) -> None:
    """A presigned PUT URL handed to a process without keys is policed and
    masked like a signed PUT."""
    request = AWSRequest(method="PUT", url=f"{gw.endpoint}/{BUCKET}/{quote(key)}")
    S3SigV4QueryAuth(_creds(gw, "writer"), "s3", REGION, expires=300).add_auth(request)
    resp = urllib3.PoolManager().request("PUT", request.url, body=jsonl(1), retries=False)
    assert resp.status == 200, resp.data[:300]
    stored, _ = _stored(direct, key)
    assert leaks(stored) == []


# --- read oracles on a masked view --------------------------------------------


def _put_record(gw: Gateway, direct: Any, key: str) -> tuple[str, str]:
    """The stored ETag and the analyst view's ETag of RECORD."""
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=RECORD)
    stored_etag = direct.head_object(Bucket=BUCKET, Key=key)["ETag"]
    view_etag = gw.client("analyst").head_object(Bucket=BUCKET, Key=key)["ETag"]
    assert stored_etag != view_etag
    return stored_etag, view_etag


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_reads_compare_with_the_view_not_the_stored_object(
    gw: Gateway, direct: Any, key: str, method: str
) -> None:
    """If-Match / If-None-Match with a guess of the stored bytes' MD5 would
    otherwise tell an analyst whether the guess (a customer number it only
    sees tokenized) is right."""
    stored_etag, view_etag = _put_record(gw, direct, key)
    path = f"/{BUCKET}/{quote(key)}"
    cases = [
        ({"If-Match": stored_etag}, 412),
        ({"If-None-Match": stored_etag}, 200),
        ({"If-Match": view_etag}, 200),
        ({"If-None-Match": view_etag}, 304),
    ]
    for headers, expected in cases:
        resp = send(sign(gw, method, path, headers=headers, identity="analyst"))
        assert resp.status == expected, (headers, resp.status)
        if resp.status == 200:
            assert resp.headers["ETag"] == view_etag
            assert b"CUST-0042917" not in resp.data


def test_range_read_of_a_view_reports_the_views_length(gw: Gateway, direct: Any, key: str) -> None:
    _put_record(gw, direct, key)
    whole, _ = _analyst_raw(gw, key)
    resp = send(
        sign(
            gw, "GET", f"/{BUCKET}/{quote(key)}", headers={"Range": "bytes=0-0"}, identity="analyst"
        )
    )
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 0-0/{len(whole)}"
    assert resp.data == whole[:1]
    assert b"CUST-0042917" not in whole


def test_checksum_mode_gives_an_analyst_no_digest_of_the_stored_bytes(
    gw: Gateway, direct: Any, key: str
) -> None:
    """A writer's flexible checksum describes the stored bytes; a masked
    reader asking for checksums must not get it (it would confirm guesses)."""
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=RECORD, ChecksumAlgorithm="SHA256")
    stored = direct.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    stored_sums = {k: v for k, v in stored.items() if k.startswith("Checksum")}
    assert stored_sums, "the store keeps a checksum of the stored bytes"
    for method in ("GET", "HEAD"):
        resp = send(
            sign(
                gw,
                method,
                f"/{BUCKET}/{quote(key)}",
                headers={"x-amz-checksum-mode": "ENABLED"},
                identity="analyst",
            )
        )
        assert resp.status == 200
        sent = {
            k.lower(): v for k, v in resp.headers.items() if k.lower().startswith("x-amz-checksum")
        }
        for value in stored_sums.values():
            assert value not in sent.values()
        if sent.get("x-amz-checksum-sha256") and method == "GET":
            assert (
                sent["x-amz-checksum-sha256"]
                == base64.b64encode(hashlib.sha256(resp.data).digest()).decode()
            )


def test_analyst_cannot_list_the_parts_of_a_writers_upload(gw: Gateway, key: str) -> None:
    """ListParts answers each part's ETag: the MD5 of the bytes the writer
    sent, before masking."""
    writer = gw.client("writer")
    upload = writer.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        part = b'{"e": "%s", "c": "%s"}\n' % (EMAIL.encode(), CARD.encode())
        writer.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=part)
        with pytest.raises(ClientError) as err:
            gw.client("analyst").list_parts(Bucket=BUCKET, Key=key, UploadId=upload)
        assert err.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        writer.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


# --- the internal prefix, spelt other ways ------------------------------------

INTERNAL = [
    "/.s3gate/views/x",
    "/%2Es3gate/views/x",
    "/.s3gate%2Fviews%2Fx",
    "/%2e%73%33%67%61%74%65/views/x",
]


@pytest.mark.parametrize("path", INTERNAL)
def test_the_internal_prefix_is_unreachable_however_it_is_spelt(
    gw: Gateway, direct: Any, path: str
) -> None:
    """A writer that could put bytes under `.s3gate/views/` could forge the
    view an analyst is served; one that could read there could see others'
    quarantine."""
    body = jsonl(1)
    put = send(sign(gw, "PUT", f"/{BUCKET}{path}", body=body, identity="writer"))
    # Signed as sent; a path whose letters are percent-encoded signs a
    # different canonical URI than S3's (decoded, then encoded), so it fails
    # the signature before the policy: refused either way.
    assert put.status == 403 and _code(put.data) in REFUSED, put.data[:200]
    assert _absent(direct, ".s3gate/views/x")
    get = send(sign(gw, "GET", f"/{BUCKET}{path}", identity="analyst"))
    assert get.status == 403 and _code(get.data) in REFUSED


REFUSED = ("AccessDenied", "SignatureDoesNotMatch")


def _code(body: bytes) -> str:
    start, end = body.find(b"<Code>"), body.find(b"</Code>")
    return body[start + 6 : end].decode() if 0 <= start < end else ""


# --- the audit bucket -----------------------------------------------------------

AUDIT_WRITES = {
    "CopyObject into audit": lambda s3, key: s3.copy_object(
        Bucket="audit", Key=key, CopySource={"Bucket": BUCKET, "Key": "redaudit-src"}
    ),
    "CreateMultipartUpload in audit": lambda s3, key: s3.create_multipart_upload(
        Bucket="audit", Key=key
    ),
    "PutObjectTagging on audit": lambda s3, key: s3.put_object_tagging(
        Bucket="audit", Key=key, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
    ),
    "DeleteObjectTagging on audit": lambda s3, key: s3.delete_object_tagging(
        Bucket="audit", Key=key
    ),
    "PutObjectAcl on audit": lambda s3, key: s3.put_object_acl(
        Bucket="audit", Key=key, ACL="public-read"
    ),
    "DeleteObject in audit": lambda s3, key: s3.delete_object(Bucket="audit", Key=key),
    "PutBucketVersioning on audit": lambda s3, key: s3.put_bucket_versioning(
        Bucket="audit", VersioningConfiguration={"Status": "Suspended"}
    ),
}


@pytest.fixture(scope="module")
def audit_object(gw: Gateway, direct: Any) -> tuple[str, str]:
    """An object of the audit trail (the gateway's published key) and its ETag."""
    direct.put_object(Bucket=BUCKET, Key="redaudit-src", Body=jsonl(1))
    listed = direct.list_objects_v2(Bucket="audit", Prefix="s3gate/")["Contents"]
    return listed[0]["Key"], listed[0]["ETag"]


@pytest.mark.parametrize("attempt", sorted(AUDIT_WRITES))
def test_no_client_changes_the_audit_bucket(
    gw: Gateway, direct: Any, audit_object: tuple[str, str], attempt: str
) -> None:
    """Even an administrator: the built-in guard no policy can loosen."""
    key, etag = audit_object
    for target in (key, f"s3gate/v1/forged-{uuid.uuid4().hex[:8]}.json"):
        with pytest.raises(ClientError) as err:
            AUDIT_WRITES[attempt](gw.client("admin"), target)
        assert err.value.response["Error"]["Code"] == "AccessDenied", attempt
    assert direct.head_object(Bucket="audit", Key=key)["ETag"] == etag
    assert direct.get_object_tagging(Bucket="audit", Key=key)["TagSet"] == []


def test_delete_objects_in_audit_deletes_nothing(
    gw: Gateway, direct: Any, audit_object: tuple[str, str]
) -> None:
    key, etag = audit_object
    answer = gw.client("admin").delete_objects(Bucket="audit", Delete={"Objects": [{"Key": key}]})
    assert not answer.get("Deleted")
    assert [e["Code"] for e in answer["Errors"]] == ["AccessDenied"]
    assert direct.head_object(Bucket="audit", Key=key)["ETag"] == etag


# --- keys that a path normaliser would rewrite ---------------------------------

DOT_KEYS = [
    "{p}a/../../.s3gate/views/x",
    "{p}a/../b/x",
    "{p}./x",
    "{p}/x",
    "{p}a//../x",
]


@pytest.mark.parametrize("shape", DOT_KEYS)
def test_dot_segments_are_part_of_the_key(gw: Gateway, direct: Any, shape: str) -> None:
    """S3 keys are literal: `..` and `//` never move a write out of the key
    the policy decided on (the store gets exactly that key, masked), and
    never into the internal prefix."""
    prefix = f"reddot{uuid.uuid4().hex[:8]}/"
    key = shape.format(p=prefix)
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=jsonl(1))
    listed = [o["Key"] for o in direct.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert listed == [key]
    stored, _ = _stored(direct, key)
    assert leaks(stored) == []
    assert _absent(direct, ".s3gate/views/x")


COPY_SOURCES = [
    "/{b}/{k}",
    "/{b}/%2E{rest}",
    "/{b}/%2es3gate%2f{tail}",
    "{b}/x/../{k}",
]


@pytest.fixture(scope="module")
def view_key(gw: Gateway, direct: Any) -> str:
    """The key of an analyst's view, as the gateway keeps it in the store."""
    key = f"redview{uuid.uuid4().hex[:8]}/trace.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=RECORD)
    _analyst_raw(gw, key)
    views = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/views/")["Contents"]
    return next(o["Key"] for o in views if f"/{key}/" in o["Key"])


@pytest.mark.parametrize("shape", COPY_SOURCES)
@pytest.mark.parametrize("op", ["CopyObject", "UploadPartCopy"])
def test_the_internal_prefix_is_no_copy_source(
    gw: Gateway, direct: Any, view_key: str, key: str, shape: str, op: str
) -> None:
    """A copy from `.s3gate/views/…` (or quarantine) would hand a writer, or
    an administrator, another principal's view under a key of their own."""
    view = view_key
    source = shape.format(b=BUCKET, k=view, rest=view[1:], tail=view[len(".s3gate/") :])
    target = key + ".stolen"
    path = f"/{BUCKET}/{quote(target)}"
    upload = None
    if op == "UploadPartCopy":
        upload = gw.client("admin").create_multipart_upload(Bucket=BUCKET, Key=target)["UploadId"]
        path += f"?partNumber=1&uploadId={upload}"
    try:
        resp = send(sign(gw, "PUT", path, headers={"x-amz-copy-source": source}))
        assert resp.status in (403, 404), resp.data[:300]
        assert _code(resp.data) in ("AccessDenied", "NoSuchKey")
    finally:
        if upload is not None:
            admin = gw.client("admin")  # a masked upload is staged: ask the gateway
            parts = admin.list_parts(Bucket=BUCKET, Key=target, UploadId=upload)
            assert parts.get("Parts", []) == []
            admin.abort_multipart_upload(Bucket=BUCKET, Key=target, UploadId=upload)
    assert _absent(direct, target)


def test_a_browser_post_upload_stores_nothing(gw: Gateway, direct: Any) -> None:
    """S3's POST Object (an HTML form with a signed policy) is a second way
    to write; s3gate does not implement it, so it must refuse it, whatever
    the form says."""
    key = f"redpost{uuid.uuid4().hex[:8]}/t.jsonl"
    who = gw.identities["writer"]
    fields = {
        "key": key,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": f"{who.access_key_id}/20300101/{REGION}/s3/aws4_request",
        "x-amz-date": "20300101T000000Z",
        "policy": "e30=",
        "x-amz-signature": "0" * 64,
    }
    resp = urllib3.PoolManager().request(
        "POST",
        f"{gw.endpoint}/{BUCKET}",
        fields={**fields, "file": ("t.jsonl", jsonl(1), "application/x-ndjson")},
        retries=False,
    )
    assert resp.status in (400, 403, 405, 501), resp.status
    assert _code(resp.data) in ("MethodNotAllowed", "NotImplemented", "AccessDenied")
    assert _absent(direct, key)


# --- multipart: a canary cut across parts, sent out of order and twice ---------


def test_a_canary_cut_across_parts_sent_out_of_order_is_masked(
    gw: Gateway, direct: Any, key: str
) -> None:
    """Part 2 first, then part 1 twice (the second replaces the first): the
    masked object is the parts in number order, the canary cut at the part
    boundary is found, and an out-of-order Complete stores nothing."""
    s3 = gw.client("writer")
    filler = (b'{"pad": "' + b"x" * 1000 + b'"}\n') * 5300  # parts but the last: 5 MiB
    first = filler + b'{"t": "mail ' + EMAIL[:8].encode()
    second = EMAIL[8:].encode() + b" and card " + CARD.encode() + b'"}\n'
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        etag2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=second)[
            "ETag"
        ]
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=filler)
        etag1 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=first)[
            "ETag"
        ]
        with pytest.raises(ClientError) as err:
            s3.complete_multipart_upload(
                Bucket=BUCKET,
                Key=key,
                UploadId=upload,
                MultipartUpload={
                    "Parts": [{"PartNumber": 2, "ETag": etag2}, {"PartNumber": 1, "ETag": etag1}]
                },
            )
        assert err.value.response["Error"]["Code"] == "InvalidPartOrder"
        assert _absent(direct, key)
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]
            },
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
        raise
    stored, _ = _stored(direct, key)
    assert stored.startswith(filler)
    assert leaks(stored[len(filler) :]) == []
    assert b"jane.can" not in stored
