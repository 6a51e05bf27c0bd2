"""What a policy decides about: actions, resources, request context.

An S3 operation becomes one or more access requests (`requests_for`): most
operations are one action on one resource; CopyObject (and UploadPartCopy) is
a read of the source and a write (PutObject, UploadPart) of the destination;
listings are decided on the listed prefix and then on every key and common
prefix they would show (`listing_requests`); DeleteObjects and ListBuckets
are decided per key and per bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from s3gate.identity.principal import Principal

ResourceKind = Literal["Object", "Prefix", "Bucket"]

GROUPS = ("read", "write", "list", "delete", "admin")


@dataclass(frozen=True)
class ActionSpec:
    group: str
    resources: tuple[ResourceKind, ...]


_OBJ: tuple[ResourceKind, ...] = ("Object",)
_LIST: tuple[ResourceKind, ...] = ("Prefix", "Object")
_BUCKET: tuple[ResourceKind, ...] = ("Bucket",)

# Must agree with policies/schema.cedarschema (a unit test checks that it does).
ACTIONS: Mapping[str, ActionSpec] = {
    "GetObject": ActionSpec("read", _OBJ),
    "HeadObject": ActionSpec("read", _OBJ),
    # ACL reads: the answer is always the private ACL, but it still tells the
    # caller the object exists, so it is a read of the object.
    "GetObjectAcl": ActionSpec("read", _OBJ),
    # Tags are content of the object (inspected like its metadata): reading
    # them is a read, changing or removing them a write (docs/policies.md).
    "GetObjectTagging": ActionSpec("read", _OBJ),
    "PutObjectTagging": ActionSpec("write", _OBJ),
    "DeleteObjectTagging": ActionSpec("write", _OBJ),
    "PutObject": ActionSpec("write", _OBJ),
    "CreateMultipartUpload": ActionSpec("write", _OBJ),
    "UploadPart": ActionSpec("write", _OBJ),
    "CompleteMultipartUpload": ActionSpec("write", _OBJ),
    "AbortMultipartUpload": ActionSpec("write", _OBJ),
    "ListParts": ActionSpec("write", _OBJ),
    # Only a no-op (private) ACL is ever accepted; still a change request.
    "PutObjectAcl": ActionSpec("write", _OBJ),
    "DeleteObject": ActionSpec("delete", _OBJ),
    "ListObjects": ActionSpec("list", _LIST),
    "ListObjectsV2": ActionSpec("list", _LIST),
    "ListMultipartUploads": ActionSpec("list", _LIST),
    # Filtered exactly like the other listings (docs/s3-compatibility.md).
    "ListObjectVersions": ActionSpec("list", _LIST),
    # The state says no more about the bucket's contents than HeadBucket.
    "GetBucketVersioning": ActionSpec("list", _BUCKET),
    "GetBucketTagging": ActionSpec("list", _BUCKET),
    "ListBuckets": ActionSpec("list", _BUCKET),
    "HeadBucket": ActionSpec("list", _BUCKET),
    "GetBucketLocation": ActionSpec("list", _BUCKET),
    # A bucket-level read like HeadBucket / GetBucketLocation: the answer (the
    # owner, full control) says no more than they do.
    "GetBucketAcl": ActionSpec("list", _BUCKET),
    "CreateBucket": ActionSpec("admin", _BUCKET),
    "DeleteBucket": ActionSpec("admin", _BUCKET),
    "PutBucketAcl": ActionSpec("admin", _BUCKET),
    # Turning versions on makes every later delete keep the bytes.
    "PutBucketVersioning": ActionSpec("admin", _BUCKET),
    "PutBucketTagging": ActionSpec("admin", _BUCKET),
    "DeleteBucketTagging": ActionSpec("admin", _BUCKET),
}

# Copies: a GetObject of the source and this write of the destination.
COPIES: Mapping[str, str] = {"CopyObject": "PutObject", "UploadPartCopy": "UploadPart"}
LIST_ACTIONS = frozenset(a for a, spec in ACTIONS.items() if spec.resources == _LIST)
# Decided per item rather than once per HTTP request.
PER_ITEM_OPERATIONS = frozenset({"DeleteObjects", "ListBuckets"})


@dataclass(frozen=True)
class Resource:
    kind: ResourceKind
    bucket: str
    key: str = ""  # the listed prefix for a Prefix; "" for a Bucket

    @classmethod
    def object(cls, bucket: str, key: str) -> Resource:
        return cls("Object", bucket, key)

    @classmethod
    def prefix(cls, bucket: str, prefix: str = "") -> Resource:
        return cls("Prefix", bucket, prefix)

    @classmethod
    def of_bucket(cls, bucket: str) -> Resource:
        return cls("Bucket", bucket, "")

    @property
    def uid(self) -> str:
        return self.bucket if self.kind == "Bucket" else f"{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return f'{self.kind}::"{self.uid}"'


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RequestContext:
    """Facts about the HTTP request that policies may look at."""

    operation: str
    source_ip: str = "0.0.0.0"  # noqa: S104 - "unknown", never matches a real client range
    tls: bool = False
    presigned: bool = False
    now: datetime = field(default_factory=_utcnow)  # timezone-aware
    content_type: str | None = None
    content_length: int | None = None
    list_prefix: str | None = None
    copy_source: str | None = None  # "bucket/key"
    copy_destination: str | None = None  # "bucket/key"
    range: str | None = None
    # The version read or deleted (`versionId`; the copy source's for a
    # CopyObject's GetObject), when the request names one.
    version_id: str | None = None

    def __post_init__(self) -> None:
        # Checked here, where the gateway builds it, so that a bad value is a
        # loud error (and a 500) rather than something Cedar may trip on later.
        ipaddress.ip_address(self.source_ip)
        if self.now.tzinfo is None:
            raise ValueError("RequestContext.now must be timezone-aware")
        if self.content_length is not None and self.content_length < 0:
            raise ValueError("RequestContext.content_length must not be negative")


@dataclass(frozen=True)
class AccessRequest:
    principal: Principal
    action: str
    resource: Resource
    context: RequestContext

    def __post_init__(self) -> None:
        spec = ACTIONS.get(self.action)
        if spec is None:
            raise ValueError(f"{self.action!r} is not a policy action")
        if self.resource.kind not in spec.resources:
            raise ValueError(f"{self.action} is not decided on a {self.resource.kind}")


def requests_for(
    principal: Principal,
    operation: str,
    bucket: str,
    key: str | None,
    context: RequestContext,
    *,
    copy_source: tuple[str, str] | None = None,
) -> tuple[AccessRequest, ...]:
    """The access requests that must all be allowed before `operation` runs.

    Raises ValueError for operations that are not decided here (per-item ones:
    use `delete_requests` / `bucket_requests`) and for anything unknown, so a
    new operation cannot slip through undecided.
    """
    ctx = _with_operation(context, operation)
    if operation in PER_ITEM_OPERATIONS:
        raise ValueError(f"{operation} is decided per item, not per request")
    if operation in COPIES:
        if copy_source is None or key is None:
            raise ValueError(f"{operation} needs a destination key and a copy source")
        src_bucket, src_key = copy_source
        source, dest = f"{src_bucket}/{src_key}", f"{bucket}/{key}"
        return (
            AccessRequest(
                principal,
                "GetObject",
                Resource.object(src_bucket, src_key),
                replace(ctx, copy_destination=dest, copy_source=None),
            ),
            AccessRequest(
                principal,
                COPIES[operation],
                Resource.object(bucket, key),
                # The version read is the source's; the write makes a new one.
                replace(ctx, copy_source=source, copy_destination=None, version_id=None),
            ),
        )
    spec = ACTIONS.get(operation)
    if spec is None:
        raise ValueError(f"{operation!r} is not an operation the policy layer decides")
    if spec.resources == _BUCKET:
        resource = Resource.of_bucket(bucket)
    elif spec.resources == _LIST:
        resource = Resource.prefix(bucket, ctx.list_prefix or "")
    else:
        if key is None:
            raise ValueError(f"{operation} needs a key")
        resource = Resource.object(bucket, key)
    return (AccessRequest(principal, operation, resource, ctx),)


def listing_requests(
    principal: Principal,
    operation: str,
    bucket: str,
    keys: Iterable[str],
    common_prefixes: Iterable[str],
    context: RequestContext,
) -> list[AccessRequest]:
    """One request per key (Object) and per common prefix (Prefix) a listing
    would show; show only the allowed ones."""
    if operation not in LIST_ACTIONS:
        raise ValueError(f"{operation} is not a listing")
    ctx = _with_operation(context, operation)
    out = [AccessRequest(principal, operation, Resource.object(bucket, k), ctx) for k in keys]
    out += [
        AccessRequest(principal, operation, Resource.prefix(bucket, p), ctx)
        for p in common_prefixes
    ]
    return out


def delete_requests(
    principal: Principal, bucket: str, keys: Iterable[str], context: RequestContext
) -> list[AccessRequest]:
    """DeleteObjects: one DeleteObject per key; delete the allowed ones only."""
    ctx = _with_operation(context, "DeleteObjects")
    return [AccessRequest(principal, "DeleteObject", Resource.object(bucket, k), ctx) for k in keys]


def bucket_requests(
    principal: Principal, buckets: Iterable[str], context: RequestContext
) -> list[AccessRequest]:
    """ListBuckets: one request per bucket; answer with the allowed ones."""
    ctx = _with_operation(context, "ListBuckets")
    return [AccessRequest(principal, "ListBuckets", Resource.of_bucket(b), ctx) for b in buckets]


def _with_operation(context: RequestContext, operation: str) -> RequestContext:
    return context if context.operation == operation else replace(context, operation=operation)
