"""Client metadata that describes the bytes: true again after masking.

Some clients store a hash of the file they uploaded in user metadata and
check downloads against it: s3cmd (`x-amz-meta-s3cmd-attrs`, field `md5`),
rclone for multipart uploads (`x-amz-meta-md5chksum`, base64 MD5). Once the
gateway has rewritten the bytes, those values are wrong — and they are a hash
of the unmasked content, which could confirm a guessed secret. So they are
made to describe the bytes actually stored (on write) or returned (a view):
s3cmd's `md5` is replaced, rclone's checksum is dropped.
"""

from __future__ import annotations

from collections.abc import MutableMapping

S3CMD_ATTRS = "x-amz-meta-s3cmd-attrs"
RCLONE_MD5 = "x-amz-meta-md5chksum"


def describe(metadata: MutableMapping[str, str], md5_hex: str | None) -> None:
    """`md5_hex` None: not known yet (a view sent as it is made): s3cmd's
    `md5` is dropped rather than left describing other bytes."""
    metadata.pop(RCLONE_MD5, None)
    attrs = metadata.get(S3CMD_ATTRS)
    if attrs is None:
        return
    fields = [f for f in attrs.split("/") if f and not f.startswith("md5:")]
    if md5_hex is not None:
        fields.append(f"md5:{md5_hex}")
    metadata[S3CMD_ATTRS] = "/".join(fields)
