"""Map an HTTP request (method, host, raw path, query) to one S3 operation.

The gateway is allow-list only: a request that names a sub-resource we do not
implement (`?policy`, `?tagging`, `?retention`, …) resolves to `NotImplemented`,
never to a blind pass-through that the policy layer would not understand.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from s3gate import errors
from s3gate.s3 import bucketpages

MAX_KEY_BYTES = 1024

# Query parameters that refine an operation rather than select a different one.
_PLAIN_PARAMS = frozenset(
    {
        "prefix",
        "delimiter",
        "marker",
        "max-keys",
        "encoding-type",
        "list-type",
        "continuation-token",
        "start-after",
        "fetch-owner",
        "key-marker",
        "upload-id-marker",
        "max-uploads",
        "part-number-marker",
        "max-parts",
        "x-id",  # botocore adds ?x-id=<OperationName> to some requests
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-user-agent",
        # Legacy SigV2 presigned URLs (see sigv4.v2query) and the headers a
        # SigV2 signer moves into the query.
        "AWSAccessKeyId",
        "Signature",
        "Expires",
        "content-md5",
        "content-type",
    }
)

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Operation:
    name: str
    bucket: str | None = None
    key: str | None = None

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")


def validate_bucket_name(name: str) -> None:
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        raise errors.InvalidBucketName(resource=f"/{name}", extra={"BucketName": name})
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return
    raise errors.InvalidBucketName(resource=f"/{name}", extra={"BucketName": name})


def virtual_host_bucket(host: str, virtual_host_domains: Sequence[str]) -> str | None:
    """The bucket named by a virtual-hosted-style Host header, if any."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host.lower()
    for domain in virtual_host_domains:
        suffix = "." + domain.lower()
        if hostname.endswith(suffix) and len(hostname) > len(suffix):
            return hostname[: -len(suffix)]
    return None


def split_target(
    host: str, raw_path: bytes, virtual_host_domains: Sequence[str]
) -> tuple[str | None, str | None]:
    """(bucket, key) from the Host header and the raw request path."""
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument("The request path is not valid UTF-8") from exc
    bucket: str | None
    key: str | None
    bucket = virtual_host_bucket(host, virtual_host_domains)
    if bucket is not None:
        key = path[1:] if path.startswith("/") else path
        return bucket, key or None
    if not path.startswith("/"):
        raise errors.InvalidRequest("The request path must start with '/'")
    rest = path[1:]
    if not rest:
        return None, None
    bucket, sep, key = rest.partition("/")
    return bucket, (key if sep and key else None)


def _verb(method: str, has_key: bool, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    if not has_key:
        if "tagging" in query and method in _BUCKET_TAGGING:
            return _BUCKET_TAGGING[method]
        if method == "GET":
            if "location" in query:
                return "GetBucketLocation"
            if "acl" in query:
                return "GetBucketAcl"
            if "versioning" in query:
                return "GetBucketVersioning"
            if "versions" in query:
                return "ListObjectVersions"
            if "uploads" in query:
                return "ListMultipartUploads"
            return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
        if method == "PUT":
            if "versioning" in query:
                return "PutBucketVersioning"
            return "PutBucketAcl" if "acl" in query else "CreateBucket"
        if method == "HEAD":
            return "HeadBucket"
        if method == "DELETE":
            return "DeleteBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        raise errors.MethodNotAllowed()
    if "tagging" in query and method in _TAGGING:
        return _TAGGING[method]
    if method == "GET":
        if "acl" in query:
            return "GetObjectAcl"
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "acl" in query:
            return "PutObjectAcl"
        if "uploadId" in query or "partNumber" in query:
            if "x-amz-copy-source" in headers:
                return "UploadPartCopy"
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
    raise errors.MethodNotAllowed()


# Object tagging (s3gate.handlers.tagging), one verb per method.
_TAGGING = {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}
# Bucket tagging (s3gate.handlers.buckettags): `?tagging` without a key.
_BUCKET_TAGGING = {
    "GET": "GetBucketTagging",
    "PUT": "PutBucketTagging",
    "DELETE": "DeleteBucketTagging",
}

# Sub-resources each operation may carry; anything else is not implemented.
_SUBRESOURCES: dict[str, frozenset[str]] = {
    "GetBucketLocation": frozenset({"location"}),
    "ListMultipartUploads": frozenset({"uploads"}),
    "DeleteObjects": frozenset({"delete"}),
    "ListParts": frozenset({"uploadId"}),
    "UploadPart": frozenset({"uploadId", "partNumber"}),
    "UploadPartCopy": frozenset({"uploadId", "partNumber"}),
    "AbortMultipartUpload": frozenset({"uploadId"}),
    "CreateMultipartUpload": frozenset({"uploads"}),
    "CompleteMultipartUpload": frozenset({"uploadId"}),
    "GetBucketAcl": frozenset({"acl"}),
    "PutBucketAcl": frozenset({"acl"}),
    "GetObjectAcl": frozenset({"acl"}),
    "PutObjectAcl": frozenset({"acl"}),
    "ListObjectVersions": frozenset({"versions", "version-id-marker"}),
    **{name: frozenset({"tagging"}) for name in _TAGGING.values()},
    **{name: frozenset({"tagging"}) for name in _BUCKET_TAGGING.values()},
    "GetBucketVersioning": frozenset({"versioning"}),
    "PutBucketVersioning": frozenset({"versioning"}),
    # A version of the object (docs/s3-compatibility.md, "Object versions").
    "GetObject": frozenset({"versionId", "partNumber"}),
    "HeadObject": frozenset({"versionId", "partNumber"}),
    "DeleteObject": frozenset({"versionId"}),
}

# Operations that s3gate does not implement even though we can name them.
_UNSUPPORTED: frozenset[str] = frozenset()


def _plain(param: str) -> str:
    # Presigned URLs spell their parameters X-Amz-…; S3 treats them case-blind.
    lower = param.lower()
    return lower if lower.startswith("x-amz-") else param


def resolve(
    method: str,
    host: str,
    raw_path: bytes,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    virtual_host_domains: Sequence[str] = (),
) -> Operation:
    bucket, key = split_target(host, raw_path, virtual_host_domains)
    if bucket is None:
        if method == "GET" and all(
            _plain(p) in _PLAIN_PARAMS or p in bucketpages.PARAMS for p in query
        ):
            return Operation("ListBuckets")
        raise errors.NotImplementedError_(resource="/")
    validate_bucket_name(bucket)
    if key is not None and len(key.encode()) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(resource=f"/{bucket}")
    try:
        name = _verb(method, key is not None, query, headers)
    except errors.MethodNotAllowed:
        # S3 tells its POSTs apart by sub-resource (?restore, ?select, …):
        # one s3gate does not route is not implemented, like any other.
        subresources = sorted(p for p in query if _plain(p) not in _PLAIN_PARAMS)
        if method == "POST" and subresources:
            raise errors.NotImplementedError_(
                f"s3gate does not implement this operation ({', '.join(subresources)})",
                resource=Operation(method, bucket, key).resource,
            ) from None
        raise
    allowed = _SUBRESOURCES.get(name, frozenset())
    extra = {p for p in query if _plain(p) not in _PLAIN_PARAMS and p not in allowed}
    op = Operation(name, bucket, key)
    if extra or name in _UNSUPPORTED:
        what = ", ".join(sorted(extra)) or name
        raise errors.NotImplementedError_(
            f"s3gate does not implement this operation ({what})", resource=op.resource
        )
    return op


def describe(
    method: str,
    host: str,
    raw_path: bytes,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    virtual_host_domains: Sequence[str] = (),
) -> Operation | None:
    """Best effort and never raising: what a refused request was trying to do
    (for its access-log line and audit event when `resolve` refused it). An
    operation s3gate does not implement is named with its sub-resources, e.g.
    `GetObject?acl`; a verb it cannot name is `Unknown`."""
    try:
        bucket, key = split_target(host, raw_path, virtual_host_domains)
    except errors.S3Error:
        return None
    if bucket is None:
        return Operation("ListBuckets" if method == "GET" else "Unknown")
    if key is not None and len(key.encode()) > MAX_KEY_BYTES:
        key = key.encode()[:MAX_KEY_BYTES].decode(errors="ignore") + "…"
    try:
        name = _verb(method, key is not None, query, headers)
    except errors.S3Error:
        return Operation("Unknown", bucket, key)
    allowed = _SUBRESOURCES.get(name, frozenset())
    extra = sorted(p for p in query if _plain(p) not in _PLAIN_PARAMS and p not in allowed)
    # Client-chosen names: a few, short, so a log line stays a line.
    shown = [p[:_MAX_NAME_CHARS] for p in extra[:_MAX_NAMES]] + (
        ["…"] if extra[_MAX_NAMES:] else []
    )
    return Operation(name + ("?" + ",".join(shown) if shown else ""), bucket, key)


_MAX_NAMES = 4
_MAX_NAME_CHARS = 32
