"""Request → operation (s3.operations.resolve), with S3's documented request
forms: every operation the gateway routes, each sub-resource it does not
implement (NotImplemented, never a pass-through), and the hostile paths,
bucket names and keys it refuses."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3.operations import MAX_KEY_BYTES, Operation, resolve, split_target

Query = dict[str, str]
Headers = dict[str, str]
COPY = {"x-amz-copy-source": "/src/key"}
PRESIGNED_V4 = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": "AKIA/20260101/us-east-1/s3/aws4_request",
    "X-Amz-Date": "20260101T000000Z",
    "X-Amz-Expires": "300",
    "X-Amz-SignedHeaders": "host",
    "X-Amz-Signature": "00",
    "X-Amz-Security-Token": "t",
}
PRESIGNED_V2 = {"AWSAccessKeyId": "AKIA", "Signature": "s", "Expires": "1"}

ROUTED = [
    # The service.
    pytest.param("GET", b"/", {}, {}, Operation("ListBuckets"), id="ListBuckets"),
    pytest.param("GET", b"/", {"x-id": "ListBuckets"}, {}, Operation("ListBuckets"), id="x-id"),
    *(
        pytest.param(m, b"/bkt", {"tagging": ""}, {}, Operation(name, "bkt"), id=f"bucket-{name}")
        for m, name in (
            ("GET", "GetBucketTagging"),
            ("PUT", "PutBucketTagging"),
            ("DELETE", "DeleteBucketTagging"),
        )
    ),
    pytest.param(
        "GET", b"/bkt/k", {"partNumber": "2"}, {}, Operation("GetObject", "bkt", "k"), id="get-part"
    ),
    pytest.param(
        "HEAD",
        b"/bkt/k",
        {"partNumber": "1"},
        {},
        Operation("HeadObject", "bkt", "k"),
        id="head-part",
    ),
    pytest.param(
        "GET",
        b"/",
        {"max-buckets": "1", "continuation-token": "t", "prefix": "p", "bucket-region": "r"},
        {},
        Operation("ListBuckets"),
        id="ListBuckets-paged",
    ),
    pytest.param(
        "GET", b"/", PRESIGNED_V4, {}, Operation("ListBuckets"), id="ListBuckets-presigned"
    ),
    # Buckets.
    pytest.param("GET", b"/bkt", {}, {}, Operation("ListObjects", "bkt"), id="ListObjects"),
    pytest.param("GET", b"/bkt/", {}, {}, Operation("ListObjects", "bkt"), id="trailing-slash"),
    pytest.param(
        "GET",
        b"/bkt",
        {"prefix": "p/", "delimiter": "/", "marker": "m", "max-keys": "5", "encoding-type": "url"},
        {},
        Operation("ListObjects", "bkt"),
        id="ListObjects-params",
    ),
    pytest.param(
        "GET", b"/bkt", {"list-type": "2"}, {}, Operation("ListObjectsV2", "bkt"), id="V2"
    ),
    pytest.param(
        "GET",
        b"/bkt",
        {
            "list-type": "2",
            "continuation-token": "t",
            "start-after": "a",
            "fetch-owner": "true",
            "prefix": "p",
        },
        {},
        Operation("ListObjectsV2", "bkt"),
        id="V2-params",
    ),
    pytest.param(
        "GET", b"/bkt", {"location": ""}, {}, Operation("GetBucketLocation", "bkt"), id="location"
    ),
    pytest.param(
        "GET", b"/bkt", {"acl": ""}, {}, Operation("GetBucketAcl", "bkt"), id="GetBucketAcl"
    ),
    pytest.param(
        "GET", b"/bkt", {"versions": ""}, {}, Operation("ListObjectVersions", "bkt"), id="versions"
    ),
    pytest.param(
        "GET",
        b"/bkt",
        {"versions": "", "key-marker": "k", "version-id-marker": "null"},
        {},
        Operation("ListObjectVersions", "bkt"),
        id="versions-markers",
    ),
    pytest.param(
        "GET", b"/bkt", {"uploads": ""}, {}, Operation("ListMultipartUploads", "bkt"), id="uploads"
    ),
    pytest.param(
        "GET",
        b"/bkt",
        {"uploads": "", "key-marker": "k", "upload-id-marker": "u", "max-uploads": "2"},
        {},
        Operation("ListMultipartUploads", "bkt"),
        id="uploads-markers",
    ),
    pytest.param(
        "GET",
        b"/bkt",
        {"versioning": ""},
        {},
        Operation("GetBucketVersioning", "bkt"),
        id="GetBucketVersioning",
    ),
    pytest.param(
        "PUT",
        b"/bkt",
        {"versioning": ""},
        {},
        Operation("PutBucketVersioning", "bkt"),
        id="PutBucketVersioning",
    ),
    pytest.param("PUT", b"/bkt", {}, {}, Operation("CreateBucket", "bkt"), id="CreateBucket"),
    pytest.param(
        "PUT", b"/bkt", {"acl": ""}, {}, Operation("PutBucketAcl", "bkt"), id="PutBucketAcl"
    ),
    pytest.param("HEAD", b"/bkt", {}, {}, Operation("HeadBucket", "bkt"), id="HeadBucket"),
    pytest.param("DELETE", b"/bkt", {}, {}, Operation("DeleteBucket", "bkt"), id="DeleteBucket"),
    pytest.param(
        "POST", b"/bkt", {"delete": ""}, {}, Operation("DeleteObjects", "bkt"), id="delete"
    ),
    # Objects.
    pytest.param("GET", b"/bkt/k", {}, {}, Operation("GetObject", "bkt", "k"), id="GetObject"),
    pytest.param(
        "GET",
        b"/bkt/k",
        {"response-content-type": "a/b", "response-content-disposition": "attachment"},
        {},
        Operation("GetObject", "bkt", "k"),
        id="GetObject-overrides",
    ),
    pytest.param(
        "GET", b"/bkt/k", PRESIGNED_V4, {}, Operation("GetObject", "bkt", "k"), id="presigned-v4"
    ),
    pytest.param(
        "GET",
        b"/bkt/k",
        {k.lower(): v for k, v in PRESIGNED_V4.items()},
        {},
        Operation("GetObject", "bkt", "k"),
        id="presigned-v4-lower-case",
    ),
    pytest.param(
        "GET", b"/bkt/k", PRESIGNED_V2, {}, Operation("GetObject", "bkt", "k"), id="presigned-v2"
    ),
    pytest.param(
        "GET", b"/bkt/k", {"acl": ""}, {}, Operation("GetObjectAcl", "bkt", "k"), id="GetObjectAcl"
    ),
    pytest.param(
        "GET", b"/bkt/k", {"uploadId": "u"}, {}, Operation("ListParts", "bkt", "k"), id="ListParts"
    ),
    pytest.param(
        "GET",
        b"/bkt/k",
        {"uploadId": "u", "max-parts": "2", "part-number-marker": "1"},
        {},
        Operation("ListParts", "bkt", "k"),
        id="ListParts-markers",
    ),
    pytest.param("HEAD", b"/bkt/k", {}, {}, Operation("HeadObject", "bkt", "k"), id="HeadObject"),
    *(
        pytest.param(
            m, b"/bkt/k", {"versionId": "v1"}, {}, Operation(name, "bkt", "k"), id=f"{name}-version"
        )
        for m, name in (("GET", "GetObject"), ("HEAD", "HeadObject"), ("DELETE", "DeleteObject"))
    ),
    pytest.param("PUT", b"/bkt/k", {}, {}, Operation("PutObject", "bkt", "k"), id="PutObject"),
    pytest.param("PUT", b"/bkt/k", {}, COPY, Operation("CopyObject", "bkt", "k"), id="CopyObject"),
    pytest.param(
        "PUT",
        b"/bkt/k",
        {"partNumber": "1", "uploadId": "u"},
        COPY,
        Operation("UploadPartCopy", "bkt", "k"),
        id="UploadPartCopy",
    ),
    *(
        pytest.param(m, b"/bkt/k", {"tagging": ""}, {}, Operation(name, "bkt", "k"), id=name)
        for m, name in (
            ("GET", "GetObjectTagging"),
            ("PUT", "PutObjectTagging"),
            ("DELETE", "DeleteObjectTagging"),
        )
    ),
    pytest.param(
        "PUT", b"/bkt/k", {"acl": ""}, {}, Operation("PutObjectAcl", "bkt", "k"), id="PutObjectAcl"
    ),
    pytest.param(
        "PUT",
        b"/bkt/k",
        {"partNumber": "1", "uploadId": "u"},
        {},
        Operation("UploadPart", "bkt", "k"),
        id="UploadPart",
    ),
    pytest.param(
        "DELETE", b"/bkt/k", {}, {}, Operation("DeleteObject", "bkt", "k"), id="DeleteObject"
    ),
    pytest.param(
        "DELETE",
        b"/bkt/k",
        {"uploadId": "u"},
        {},
        Operation("AbortMultipartUpload", "bkt", "k"),
        id="AbortMultipartUpload",
    ),
    pytest.param(
        "POST",
        b"/bkt/k",
        {"uploads": ""},
        {},
        Operation("CreateMultipartUpload", "bkt", "k"),
        id="CreateMultipartUpload",
    ),
    pytest.param(
        "POST",
        b"/bkt/k",
        {"uploadId": "u"},
        {},
        Operation("CompleteMultipartUpload", "bkt", "k"),
        id="CompleteMultipartUpload",
    ),
    # Keys: percent-decoded once, slashes and blanks kept.
    pytest.param(
        "GET", b"/bkt/a%2Fb", {}, {}, Operation("GetObject", "bkt", "a/b"), id="encoded-slash"
    ),
    pytest.param(
        "GET", b"/bkt/a%20b+c", {}, {}, Operation("GetObject", "bkt", "a b+c"), id="space-plus"
    ),
    pytest.param(
        "GET", b"/bkt//k", {}, {}, Operation("GetObject", "bkt", "/k"), id="leading-slash-key"
    ),
    pytest.param(
        "GET", b"/bkt/k/", {}, {}, Operation("GetObject", "bkt", "k/"), id="trailing-slash-key"
    ),
    pytest.param(
        "GET", b"/bkt/a%0D%0A%09b", {}, {}, Operation("GetObject", "bkt", "a\r\n\tb"), id="crlf-tab"
    ),
    pytest.param(
        "GET", b"/bkt/%2541", {}, {}, Operation("GetObject", "bkt", "%41"), id="decoded-only-once"
    ),
    pytest.param(
        "GET",
        "/bkt/ключ/日本".encode(),
        {},
        {},
        Operation("GetObject", "bkt", "ключ/日本"),
        id="raw-utf8",
    ),
    pytest.param(
        "GET",
        b"/bkt/" + b"k" * MAX_KEY_BYTES,
        {},
        {},
        Operation("GetObject", "bkt", "k" * MAX_KEY_BYTES),
        id="key-at-1024-bytes",
    ),
    pytest.param("GET", b"/a.b-c", {}, {}, Operation("ListObjects", "a.b-c"), id="dotted-bucket"),
    pytest.param("GET", b"/abc", {}, {}, Operation("ListObjects", "abc"), id="3-char-bucket"),
    pytest.param(
        "GET", b"/" + b"a" * 63, {}, {}, Operation("ListObjects", "a" * 63), id="63-chars"
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "expected"), ROUTED)
def test_resolve(
    method: str, path: bytes, query: Query, headers: Headers, expected: Operation
) -> None:
    assert resolve(method, "gw:9000", path, query, headers) == expected


VIRTUAL = [
    pytest.param("traces.s3.example.com", b"/", Operation("ListObjects", "traces"), id="bucket"),
    pytest.param("traces.s3.example.com", b"", Operation("ListObjects", "traces"), id="empty-path"),
    pytest.param(
        "traces.s3.example.com:9000", b"/k", Operation("GetObject", "traces", "k"), id="with-port"
    ),
    pytest.param(
        "Traces.S3.Example.COM", b"/a/b", Operation("GetObject", "traces", "a/b"), id="case-blind"
    ),
    pytest.param(
        "a.b.s3.example.com", b"/k", Operation("GetObject", "a.b", "k"), id="dotted-bucket"
    ),
    # The bare domain is path style.
    pytest.param("s3.example.com", b"/traces/k", Operation("GetObject", "traces", "k"), id="bare"),
    pytest.param(
        "other.example.com", b"/trc/k", Operation("GetObject", "trc", "k"), id="other-host"
    ),
    pytest.param("[::1]:9000", b"/trc/k", Operation("GetObject", "trc", "k"), id="ipv6-host"),
]


@pytest.mark.parametrize(("host", "path", "expected"), VIRTUAL)
def test_virtual_hosted_style(host: str, path: bytes, expected: Operation) -> None:
    assert resolve("GET", host, path, {}, {}, ("s3.example.com",)) == expected


def _p(method: str, path: bytes, query: Query, headers: Headers | None = None) -> object:
    subs = ",".join(query) or "-"
    return pytest.param(method, path, query, headers or {}, id=f"{method}-{path.decode()}-{subs}")


# Everything S3 has that the gateway does not implement: NotImplemented,
# whatever the method, so nothing unknown reaches the policy or the store.
NOT_IMPLEMENTED = [
    *(
        _p(m, b"/bkt", {sub: ""})
        for sub in (
            "cors",
            "policy",
            "policyStatus",
            "lifecycle",
            "website",
            "logging",
            "notification",
            "replication",
            "encryption",
            "object-lock",
            "requestPayment",
            "accelerate",
            "ownershipControls",
            "publicAccessBlock",
            "intelligent-tiering",
        )
        for m in ("GET", "PUT", "DELETE")
    ),
    _p("GET", b"/bkt", {"analytics": "", "id": "x"}),
    _p("GET", b"/bkt", {"inventory": "", "id": "x"}),
    _p("GET", b"/bkt", {"metrics": "", "id": "x"}),
    _p("HEAD", b"/bkt", {"acl": ""}),
    _p("POST", b"/bkt", {"delete": "", "versioning": ""}),
    _p("GET", b"/bkt", {"version-id-marker": "x"}),  # ListObjectVersions' only
    _p("GET", b"/bkt", {"uploads": "", "uploadId": "u"}),
    *(
        _p(m, b"/bkt/k", {sub: ""})
        for sub in ("retention", "legal-hold")
        for m in ("GET", "PUT", "DELETE")
    ),
    _p("GET", b"/bkt/k", {"torrent": ""}),
    _p("GET", b"/bkt/k", {"attributes": ""}),
    _p("PUT", b"/bkt/k", {"versionId": "v1"}),
    _p("DELETE", b"/bkt", {"versioning": ""}),
    _p("GET", b"/bkt/k", {"versionId": "v1", "uploadId": "u"}),
    _p("DELETE", b"/bkt/k", {"partNumber": "1"}),  # a part is read, never deleted alone
    _p("GET", b"/bkt/k", {"ACL": ""}),  # sub-resources are case-sensitive
    _p("GET", b"/bkt/k", {"X-Amz-Unknown": "1"}),
    _p("PUT", b"/bkt/k", {"acl": "", "uploadId": "u"}),
    # POSTs S3 tells apart by their sub-resource, like every other one.
    _p("POST", b"/bkt/k", {"restore": ""}),
    _p("POST", b"/bkt/k", {"select": "", "select-type": "2"}),
    _p("POST", b"/bkt/k", {"renameObject": ""}),
    _p("POST", b"/bkt", {"cors": ""}),
    # The service: only ListBuckets.
    _p("GET", b"/", {"acl": ""}),
    _p("POST", b"/bkt", {"tagging": ""}),  # bucket tags: GET, PUT and DELETE only
    _p("GET", b"/bkt", {"max-buckets": "1"}),  # ListBuckets' own, not a listing's
    _p("PUT", b"/", {}),
    _p("DELETE", b"/", {}),
    _p("HEAD", b"/", {}),
    _p("POST", b"/", {}),
]


@pytest.mark.parametrize(("method", "path", "query", "headers"), NOT_IMPLEMENTED)
def test_not_implemented(method: str, path: bytes, query: Query, headers: Headers) -> None:
    with pytest.raises(errors.NotImplementedError_) as caught:
        resolve(method, "gw", path, query, headers)
    assert caught.value.error_code == "NotImplemented" and caught.value.http_status == 501


def test_not_implemented_names_the_sub_resources_and_the_resource() -> None:
    with pytest.raises(errors.NotImplementedError_) as caught:
        resolve("GET", "gw", b"/bkt/k", {"retention": "", "torrent": "", "prefix": "p"}, {})
    assert "(retention, torrent)" in caught.value.message
    assert caught.value.resource == "/bkt/k"


METHOD_NOT_ALLOWED = [
    pytest.param("PATCH", b"/bkt/k", {}, id="PATCH-object"),
    pytest.param("PATCH", b"/bkt", {}, id="PATCH-bucket"),
    pytest.param("TRACE", b"/bkt/k", {}, id="TRACE-object"),
    pytest.param("POST", b"/bkt/k", {}, id="POST-object-no-subresource"),
    pytest.param("POST", b"/bkt", {}, id="POST-bucket-no-subresource"),
    pytest.param("POST", b"/bkt/k", {"prefix": "p"}, id="POST-object-plain-param"),
]


@pytest.mark.parametrize(("method", "path", "query"), METHOD_NOT_ALLOWED)
def test_method_not_allowed(method: str, path: bytes, query: Query) -> None:
    with pytest.raises(errors.MethodNotAllowed):
        resolve(method, "gw", path, query, {})


REFUSED_TARGETS = [
    pytest.param(b"/ab", errors.InvalidBucketName, id="bucket-2-chars"),
    pytest.param(b"/" + b"a" * 64, errors.InvalidBucketName, id="bucket-64-chars"),
    pytest.param(b"/Traces", errors.InvalidBucketName, id="bucket-upper-case"),
    pytest.param(b"/tra_ces", errors.InvalidBucketName, id="bucket-underscore"),
    pytest.param(b"/_s3gate", errors.InvalidBucketName, id="bucket-gateway-prefix"),
    pytest.param(b"/-traces", errors.InvalidBucketName, id="bucket-leading-dash"),
    pytest.param(b"/traces-", errors.InvalidBucketName, id="bucket-trailing-dash"),
    pytest.param(b"/a..b", errors.InvalidBucketName, id="bucket-double-dot"),
    pytest.param(b"/a.-b", errors.InvalidBucketName, id="bucket-dot-dash"),
    pytest.param(b"/a-.b", errors.InvalidBucketName, id="bucket-dash-dot"),
    pytest.param(b"/192.168.1.1", errors.InvalidBucketName, id="bucket-ip-address"),
    pytest.param(b"//k", errors.InvalidBucketName, id="empty-bucket"),
    pytest.param(b"/tr%00ces/k", errors.InvalidBucketName, id="bucket-nul"),
    pytest.param(b"/bkt/" + b"k" * (MAX_KEY_BYTES + 1), errors.KeyTooLongError, id="key-1025"),
    # 342 three-byte characters are 1026 bytes: the limit counts bytes.
    pytest.param(("/bkt/" + "€" * 342).encode(), errors.KeyTooLongError, id="key-multibyte"),
    pytest.param(b"/bkt/%ff", errors.InvalidArgument, id="key-not-utf8"),
    pytest.param(b"/bkt/%ed%a0%80", errors.InvalidArgument, id="key-utf8-surrogate"),
    pytest.param(b"/bkt/\xc3", errors.InvalidArgument, id="raw-truncated-utf8"),
    pytest.param(b"b/k", errors.InvalidRequest, id="no-leading-slash"),
    pytest.param(b"*", errors.InvalidRequest, id="asterisk-form"),
]


@pytest.mark.parametrize(("path", "error"), REFUSED_TARGETS)
def test_refused_targets(path: bytes, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        resolve("GET", "gw", path, {}, {})


def test_an_invalid_bucket_name_is_named_in_the_error() -> None:
    with pytest.raises(errors.InvalidBucketName) as caught:
        resolve("GET", "gw", b"/Bad_Name/k", {}, {})
    assert caught.value.extra == {"BucketName": "Bad_Name"}


SPLIT = [
    pytest.param("gw", b"/", (None, None), id="service"),
    pytest.param("gw", b"/bkt", ("bkt", None), id="bucket"),
    pytest.param("gw", b"/bkt/", ("bkt", None), id="bucket-slash"),
    pytest.param("gw", b"/bkt/k/x", ("bkt", "k/x"), id="key"),
    pytest.param("t.s3.example.com", b"/", ("t", None), id="virtual-bucket"),
    pytest.param("t.s3.example.com", b"/bkt/k", ("t", "bkt/k"), id="virtual-key"),
    pytest.param(".s3.example.com", b"/bkt", ("bkt", None), id="empty-label-is-path-style"),
]


@pytest.mark.parametrize(("host", "path", "expected"), SPLIT)
def test_split_target(host: str, path: bytes, expected: tuple[str | None, str | None]) -> None:
    assert split_target(host, path, ("s3.example.com",)) == expected


def test_operation_resource() -> None:
    assert Operation("ListBuckets").resource == "/"
    assert Operation("ListObjects", "bkt").resource == "/bkt"
    assert Operation("GetObject", "bkt", "a/b").resource == "/bkt/a/b"
