"""Checksums of multipart uploads: what CreateMultipartUpload asks for, and
what CompleteMultipartUpload and HEAD can truthfully answer.

- **The choice** (`choice`): `x-amz-checksum-algorithm` and
  `x-amz-checksum-type` as S3 takes them — COMPOSITE by default, FULL_OBJECT
  for CRC64NVME (which has no composite form); SHA1/SHA256 only COMPOSITE,
  CRC64NVME only FULL_OBJECT (S3 refuses the other pairs, `InvalidRequest`).
- **A masked (staged) upload** is stored whole at Complete with one PUT of the
  masked bytes, so its checksum is a FULL_OBJECT one over those bytes: the
  algorithm asked for at Create (recorded with the staged metadata under the
  gateway's reserved prefix), CRC64NVME when none was (as S3 computes for
  every new object). It is stored with the object (HEAD in checksum mode
  returns it to unmasked readers) and answered on Complete. A COMPOSITE
  checksum would describe parts nobody stored.
- **A plain upload** is the store's: the gateway does not tell the store the
  algorithm (a part whose checksum comes in the trailer of a streamed body
  could not be handed on with its bytes, and a store told the algorithm may
  refuse such a part or the Complete), so the object's checksum is whatever
  the store computed; Complete answers it when the store has one (read back
  with HEAD in checksum mode, and only if that HEAD is of the object just
  completed).
"""

from __future__ import annotations

from collections.abc import Mapping

from s3gate import errors
from s3gate.s3.headers import GATEWAY_META_PREFIX
from s3gate.sigv4.checksums import normalise_algorithm
from s3gate.upstream.base import Upstream

# The algorithm a staged upload was created with (masking.stagedparts meta).
STAGED_ALGORITHM = GATEWAY_META_PREFIX + "checksum-algorithm"
DEFAULT_ALGORITHM = "CRC64NVME"
_ONLY = {"SHA1": "COMPOSITE", "SHA256": "COMPOSITE", "CRC64NVME": "FULL_OBJECT"}


def choice(headers: Mapping[str, str]) -> dict[str, str]:
    """The CreateMultipartUpload headers S3 echoes: algorithm and type."""
    raw = headers.get("x-amz-checksum-algorithm")
    kind = headers.get("x-amz-checksum-type")
    if raw is None:
        if kind is not None:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        return {}
    algorithm = normalise_algorithm(raw)
    default = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    chosen = default if kind is None else kind.strip().upper()
    if chosen not in ("COMPOSITE", "FULL_OBJECT"):
        raise errors.InvalidRequest("Invalid x-amz-checksum-type")
    if _ONLY.get(algorithm, chosen) != chosen:
        raise errors.InvalidRequest(
            f"The {chosen} checksum type cannot be used with the "
            f"{algorithm.lower()} checksum algorithm."
        )
    return {"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": chosen}


def staged_algorithm(metadata: dict[str, str]) -> str:
    """Takes the recorded algorithm out of a staged upload's metadata (it is
    not stored with the object)."""
    recorded = metadata.pop(STAGED_ALGORITHM, None)
    try:
        return normalise_algorithm(recorded) if recorded else DEFAULT_ALGORITHM
    except errors.InvalidRequest:
        return DEFAULT_ALGORITHM


async def of_stored(
    upstream: Upstream, bucket: str, key: str, etag: str
) -> tuple[str, str, str] | None:
    """(algorithm, value, type) the store keeps for the object it just
    completed with `etag`; None when it keeps none or the key changed since."""
    head = await upstream.head_object(bucket, key, checksum_mode=True)
    if head.etag != etag:
        return None
    kind = head.checksums.get("x-amz-checksum-type", "FULL_OBJECT").upper()
    for name, value in head.checksums.items():
        algorithm = name.removeprefix("x-amz-checksum-").upper()
        if algorithm in _ONLY or algorithm in ("CRC32", "CRC32C"):
            return algorithm, value, kind
    return None
