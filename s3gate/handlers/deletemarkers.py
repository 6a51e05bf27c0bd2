"""A GET that found no object because the key's latest version (or the
version asked for) is a delete marker answers as S3 does: 404 NoSuchKey
with `x-amz-delete-marker: true` and the marker's `x-amz-version-id`, or
for a marker's own version id 405 MethodNotAllowed with the same headers.

Not every store says so on a GET: moto sends the headers on HEAD only, and
answers a GET of a marker's version id 404 NoSuchVersion. So when the store's
GET error names no marker, one HEAD of the same key and version asks; what the
HEAD says is what S3's GET would have said. It costs a request on a GET that
failed anyway, and nothing on the way to an object. The read was already
decided and is audited as it was answered; the HEAD learns no more than the
headers S3 itself sends for the key.
"""

from __future__ import annotations

from s3gate import errors
from s3gate.handlers.call import Call

MARKER = "x-amz-delete-marker"
VERSION = "x-amz-version-id"


async def explain_missing(call: Call, missing: errors.S3Error) -> errors.S3Error:
    """The error a GET answers for `missing` (the store's NoSuchKey or
    NoSuchVersion): the store's own when it names a delete marker or none is
    there, else S3's answer for the delete marker the HEAD found."""
    if MARKER in missing.headers:
        return missing
    try:
        await call.upstream.head_object(call.bucket, call.key, version_id=call.version_id)
    except errors.S3Error as head:
        if head.headers.get(MARKER, "").lower() == "true":
            return _as_s3(call, head.headers)
        return missing
    return missing  # written again since the GET: the GET's answer stands


def _as_s3(call: Call, headers: dict[str, str]) -> errors.S3Error:
    found = {MARKER: "true", **({VERSION: headers[VERSION]} if VERSION in headers else {})}
    if call.version_id is not None:
        return errors.MethodNotAllowed(headers=found)
    return errors.NoSuchKey(headers=found)
