"""Operation name → handler. Handlers hold S3 semantics, not wiring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from s3gate.handlers import (
    acl,
    buckets,
    buckettags,
    multipart,
    objects,
    partcopy,
    tagging,
    versions,
)
from s3gate.handlers.call import Call

Handler = Callable[[Call], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": buckets.list_buckets,
    "CreateBucket": buckets.create_bucket,
    "HeadBucket": buckets.head_bucket,
    "DeleteBucket": buckets.delete_bucket,
    "GetBucketLocation": buckets.get_bucket_location,
    "ListObjects": buckets.list_objects,
    "ListObjectsV2": buckets.list_objects_v2,
    "ListObjectVersions": versions.list_object_versions,
    "GetBucketVersioning": versions.get_bucket_versioning,
    "PutBucketVersioning": versions.put_bucket_versioning,
    "GetBucketAcl": acl.get_bucket_acl,
    "PutBucketAcl": acl.put_bucket_acl,
    "GetObjectAcl": acl.get_object_acl,
    "PutObjectAcl": acl.put_object_acl,
    "PutObject": objects.put_object,
    "GetObject": objects.get_object,
    "HeadObject": objects.head_object,
    "DeleteObject": objects.delete_object,
    "DeleteObjects": objects.delete_objects,
    "CopyObject": objects.copy_object,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "UploadPartCopy": partcopy.upload_part_copy,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart.list_parts,
    "ListMultipartUploads": multipart.list_multipart_uploads,
    "GetObjectTagging": tagging.get_object_tagging,
    "PutObjectTagging": tagging.put_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "GetBucketTagging": buckettags.get_bucket_tagging,
    "PutBucketTagging": buckettags.put_bucket_tagging,
    "DeleteBucketTagging": buckettags.delete_bucket_tagging,
}

# Operations whose handler consumes the request body itself. For every other
# operation the pipeline reads and verifies the (normally empty) body first.
BODY_OPERATIONS = frozenset(
    {
        "CreateBucket",
        "PutObject",
        "DeleteObjects",
        "UploadPart",
        "CompleteMultipartUpload",
        "PutObjectAcl",
        "PutBucketAcl",
        "PutObjectTagging",
        "PutBucketVersioning",
        "PutBucketTagging",
    }
)
