"""One class per S3 error code the gateway answers, grouped as S3 documents
them (authentication, body integrity, request shape, conditions, resources,
service health)."""

from __future__ import annotations

from s3gate.errors.base import S3Error


# Authentication and signing.
class AccessDenied(S3Error):
    code = "AccessDenied"
    status = 403
    default_message = "Access Denied"


class InvalidAccessKeyId(S3Error):
    code = "InvalidAccessKeyId"
    status = 403
    default_message = "The AWS Access Key Id you provided does not exist in our records."


class SignatureDoesNotMatch(S3Error):
    code = "SignatureDoesNotMatch"
    status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class RequestTimeTooSkewed(S3Error):
    code = "RequestTimeTooSkewed"
    status = 403
    default_message = "The difference between the request time and the current time is too large."


class AuthorizationHeaderMalformed(S3Error):
    code = "AuthorizationHeaderMalformed"
    status = 400
    default_message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    code = "AuthorizationQueryParametersError"
    status = 400
    default_message = "The presigned URL query parameters are malformed."


class ExpiredToken(S3Error):
    code = "ExpiredToken"
    status = 400
    default_message = "The provided token has expired."


class InvalidToken(S3Error):
    code = "InvalidToken"
    status = 400
    default_message = "The provided token is malformed or otherwise invalid."


# Body integrity.
class XAmzContentSHA256Mismatch(S3Error):
    code = "XAmzContentSHA256Mismatch"
    status = 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class BadDigest(S3Error):
    code = "BadDigest"
    status = 400
    default_message = "The Content-MD5 or checksum you specified did not match what we received."


class InvalidDigest(S3Error):
    code = "InvalidDigest"
    status = 400
    default_message = "The Content-MD5 or checksum you specified is not valid."


class IncompleteBody(S3Error):
    code = "IncompleteBody"
    status = 400
    default_message = "You did not provide the number of bytes specified by the Content-Length."


class MissingContentLength(S3Error):
    code = "MissingContentLength"
    status = 411
    default_message = "You must provide the Content-Length HTTP header."


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"
    status = 400
    default_message = "Your proposed upload exceeds the maximum allowed size."


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"
    status = 400
    default_message = "Your proposed upload is smaller than the minimum allowed size."


class MaxMessageLengthExceeded(S3Error):
    code = "MaxMessageLengthExceeded"
    status = 400
    default_message = "Your request was too big."


class RequestTimeout(S3Error):
    code = "RequestTimeout"
    status = 400
    default_message = (
        "Your socket connection to the server was not read from or written to "
        "within the timeout period."
    )


class RequestHeaderTimeout(RequestTimeout):
    """The request head (request line and headers) did not arrive in time
    (`server.head_timeout_seconds`). 408: nothing of the request was read.
    (A subclass, so that `from_code` keeps mapping S3's 400 RequestTimeout.)"""

    status = 408
    default_message = "The request headers were not received within the timeout period."


# Request shape.
class RequestHeaderSectionTooLarge(S3Error):
    """Too many headers, one too large, or the whole head too large
    (`server.max_headers`, `max_header_bytes`, `max_head_bytes`). S3 answers
    this code with 400; s3gate uses 431 (RFC 6585), which proxies and clients
    know means "do not retry as is"."""

    code = "RequestHeaderSectionTooLarge"
    status = 431
    default_message = "Your request header section exceeds the maximum allowed size."


class MetadataTooLarge(S3Error):
    code = "MetadataTooLarge"
    status = 400
    default_message = "Your metadata headers exceed the maximum allowed metadata size."


class InvalidArgument(S3Error):
    code = "InvalidArgument"
    status = 400
    default_message = "Invalid Argument"


class InvalidRequest(S3Error):
    code = "InvalidRequest"
    status = 400
    default_message = "Invalid Request"


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"
    status = 400
    default_message = "The specified bucket is not valid."


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"
    status = 400
    default_message = "Your key is too long."


class MalformedXML(S3Error):
    code = "MalformedXML"
    status = 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class InvalidTag(S3Error):
    code = "InvalidTag"
    status = 400
    default_message = "The tag provided was not a valid tag."


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416
    default_message = "The requested range is not satisfiable"


class MethodNotAllowed(S3Error):
    code = "MethodNotAllowed"
    status = 405
    default_message = "The specified method is not allowed against this resource."


class NotImplementedError_(S3Error):
    """Named with a trailing underscore: NotImplemented is a Python builtin."""

    code = "NotImplemented"
    status = 501
    default_message = (
        "A header or operation you provided implies functionality that is not implemented."
    )


class AccessControlListNotSupported(S3Error):
    """What S3 answers when a bucket's ACLs are disabled (Object Ownership
    "bucket owner enforced"): s3gate's buckets always are."""

    code = "AccessControlListNotSupported"
    status = 400
    default_message = "The bucket does not allow ACLs"


class CORSForbidden(S3Error):
    """A CORS preflight that no rule of the bucket allows (S3's wording)."""

    code = "AccessForbidden"
    status = 403
    default_message = "CORSResponse: This CORS request is not allowed."


class CORSBadRequest(S3Error):
    """A preflight without the headers that make it one (Origin, method)."""

    code = "BadRequest"
    status = 400
    default_message = "Insufficient information. Origin request header needed."


class InvalidPart(S3Error):
    code = "InvalidPart"
    status = 400
    default_message = "One or more of the specified parts could not be found."


class InvalidPartNumber(S3Error):
    """A GET/HEAD `partNumber` past the object's parts (S3's 416)."""

    code = "InvalidPartNumber"
    status = 416
    default_message = "The requested partnumber is not satisfiable"


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"
    status = 400
    default_message = "The list of parts was not in ascending order."


# Conditions.
class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412
    default_message = "At least one of the pre-conditions you specified did not hold"


class NotModified(S3Error):
    code = "NotModified"
    status = 304
    default_message = "Not Modified"


# Resources.
class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404
    default_message = "The specified bucket does not exist"


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404
    default_message = "The specified key does not exist."


class NoSuchVersion(S3Error):
    code = "NoSuchVersion"
    status = 404
    default_message = "The specified version does not exist."


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404
    default_message = "The specified multipart upload does not exist."


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409
    default_message = (
        "Your previous request to create the named bucket succeeded and you already own it."
    )


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409
    default_message = "The bucket you tried to delete is not empty"


# Service health.
class InternalError(S3Error):
    code = "InternalError"
    status = 500
    default_message = "We encountered an internal error. Please try again."


class ServiceUnavailable(S3Error):
    code = "ServiceUnavailable"
    status = 503
    default_message = "Please reduce your request rate or try again later."


class SlowDown(S3Error):
    code = "SlowDown"
    status = 503
    default_message = "Please reduce your request rate."
