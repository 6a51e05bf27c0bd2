"""Legacy Signature Version 2 presigned URLs (`?AWSAccessKeyId=…&Signature=…&Expires=…`).

Why it is here: boto3's `generate_presigned_url` and `aws s3 presign` still
produce SigV2 query URLs unless the client is configured for `s3v4`, and a
user of an S3 gateway expects a default presigned link to work. Accepted only
for GET and HEAD (downloads), with the same expiry ceiling as SigV4 presigned
URLs; SigV2 in the Authorization header stays refused.

String to sign (AWS "RESTAuthentication", query string variant):
    VERB \\n Content-MD5 \\n Content-Type \\n Expires \\n
    CanonicalizedAmzHeaders CanonicalizedResource
HMAC-SHA1 is still a sound MAC; the signature is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3gate import errors
from s3gate.s3.numbers import whole_number

# Sub-resources that are part of the canonical resource (botocore's list,
# restricted to what a presigned download can carry).
_SUBRESOURCES = frozenset(
    {
        "acl",
        "location",
        "partNumber",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
    }
)
PARAMS = frozenset({"AWSAccessKeyId", "Signature", "Expires"})


@dataclass(frozen=True)
class V2Presign:
    access_key_id: str
    signature: str = field(repr=False)
    expires: int
    security_token: str | None = field(default=None, repr=False)


def parse(query: Sequence[tuple[str, str]]) -> V2Presign | None:
    """The SigV2 presign parameters, or None when the request has none."""
    params = dict(query)
    if "AWSAccessKeyId" not in params or "Signature" not in params:
        return None
    if len([n for n, _ in query if n in PARAMS]) != len(PARAMS & params.keys()):
        raise errors.AuthorizationQueryParametersError("Repeated presigned URL parameter")
    expires = whole_number(params.get("Expires", ""))
    if expires is None:
        raise errors.AuthorizationQueryParametersError(
            "Query-string authentication requires the Signature, Expires and "
            "AWSAccessKeyId parameters"
        )
    # '+' in base64 arrives as a space when a client did not percent-encode it.
    signature = params["Signature"].replace(" ", "+")
    return V2Presign(
        access_key_id=params["AWSAccessKeyId"],
        signature=signature,
        expires=expires,
        security_token=params.get("x-amz-security-token"),
    )


def verify(
    auth: V2Presign,
    secret: str,
    *,
    method: str,
    resource_path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    now: datetime,
    max_expires_seconds: int,
) -> None:
    """Raise unless the URL is valid now and signed with `secret`.

    `resource_path` is the request path as sent, prefixed with `/bucket` for
    virtual-hosted-style requests (SigV2 always signs the path-style path)."""
    if method not in ("GET", "HEAD"):
        raise errors.AccessDenied("SigV2 presigned URLs are accepted for GET and HEAD only")
    epoch = int(now.astimezone(UTC).timestamp())
    if auth.expires < epoch:
        raise errors.AccessDenied(
            "Request has expired",
            extra={"Expires": datetime.fromtimestamp(auth.expires, UTC).isoformat()},
        )
    if auth.expires - epoch > max_expires_seconds:
        raise errors.AuthorizationQueryParametersError(
            f"Expires must be less than {max_expires_seconds} seconds from now"
        )
    expected = sign(secret, string_to_sign(auth, method, resource_path, query, headers))
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise errors.SignatureDoesNotMatch()


def string_to_sign(
    auth: V2Presign,
    method: str,
    resource_path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
) -> str:
    params = dict(query)
    hdrs = dict(headers)
    # Headers a signer included travel as lower-case query parameters.
    content_md5 = params.get("content-md5", hdrs.get("content-md5", ""))
    content_type = params.get("content-type", hdrs.get("content-type", ""))
    amz: dict[str, list[str]] = {}
    for name, value in [*headers, *query]:
        lower = name.lower()
        if lower.startswith("x-amz-"):
            amz.setdefault(lower, []).append(value.strip())
    lines = [method, content_md5.strip(), content_type.strip(), str(auth.expires)]
    lines += [f"{name}:{','.join(amz[name])}" for name in sorted(amz)]
    return "\n".join(lines) + "\n" + canonical_resource(resource_path, query)


def canonical_resource(resource_path: str, query: Sequence[tuple[str, str]]) -> str:
    subs = sorted((n, v) for n, v in query if n in _SUBRESOURCES)
    if not subs:
        return resource_path
    return resource_path + "?" + "&".join(f"{n}={v}" if v else n for n, v in subs)


def sign(secret: str, to_sign: str) -> str:
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
