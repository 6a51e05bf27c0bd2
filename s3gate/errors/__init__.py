"""Every error an S3 client can see: one class per S3 error code.

Each class knows its code and HTTP status; the message is for humans and never
carries secrets, signatures or matched content. `S3Error.to_xml` renders the
standard S3 error document. Upstream errors that carry their own S3 code pass
through as `UpstreamError`, keeping the upstream's code and status.

The classes live in `base.py` (the root), `codes.py` (S3's codes) and
`approvals.py` and `client.py` (the gateway's own); callers use them as `errors.X`.
"""

from __future__ import annotations

from s3gate.errors.approvals import (
    ApprovalNotAllowed,
    HeldForApproval,
    HoldChanged,
    NoSuchHold,
    RequestForgery,
    SignInFailed,
    SignInRequired,
)
from s3gate.errors.base import S3Error, UpstreamError
from s3gate.errors.client import ClientClosedRequest
from s3gate.errors.codes import (
    AccessControlListNotSupported,
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    CORSBadRequest,
    CORSForbidden,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidTag,
    InvalidToken,
    KeyTooLongError,
    MalformedXML,
    MaxMessageLengthExceeded,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    NotImplementedError_,
    NotModified,
    PreconditionFailed,
    RequestHeaderSectionTooLarge,
    RequestHeaderTimeout,
    RequestTimeout,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
)

__all__ = [
    "AccessControlListNotSupported",
    "AccessDenied",
    "ApprovalNotAllowed",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "BadDigest",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "CORSBadRequest",
    "CORSForbidden",
    "ClientClosedRequest",
    "EntityTooLarge",
    "EntityTooSmall",
    "ExpiredToken",
    "HeldForApproval",
    "HoldChanged",
    "IncompleteBody",
    "InternalError",
    "InvalidAccessKeyId",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidDigest",
    "InvalidPart",
    "InvalidPartNumber",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidRequest",
    "InvalidTag",
    "InvalidToken",
    "KeyTooLongError",
    "MalformedXML",
    "MaxMessageLengthExceeded",
    "MetadataTooLarge",
    "MethodNotAllowed",
    "MissingContentLength",
    "NoSuchBucket",
    "NoSuchHold",
    "NoSuchKey",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotImplementedError_",
    "NotModified",
    "PreconditionFailed",
    "RequestForgery",
    "RequestHeaderSectionTooLarge",
    "RequestHeaderTimeout",
    "RequestTimeTooSkewed",
    "RequestTimeout",
    "S3Error",
    "ServiceUnavailable",
    "SignInFailed",
    "SignInRequired",
    "SignatureDoesNotMatch",
    "SlowDown",
    "UpstreamError",
    "XAmzContentSHA256Mismatch",
    "from_code",
]

_BY_CODE: dict[str, type[S3Error]] = {
    cls.code: cls for cls in S3Error.__subclasses__() if cls is not UpstreamError
}


def from_code(code: str, status: int, message: str | None = None) -> S3Error:
    """Build the error for an S3 code reported by an upstream store."""
    cls = _BY_CODE.get(code)
    if cls is not None and cls.status == status:
        return cls(message)
    return UpstreamError(code, status, message)
