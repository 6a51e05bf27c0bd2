"""The masking stamp of a stored object, and a masking run that ends in a hold.

Shared by the masked write handlers (handlers/masked_writes.py) and the
release of an approved hold (approvals/release.py): the stored object carries
metadata naming the profiles, the bundle and the count of replacements per
detector — counts, never values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from s3gate.masking import clientmeta
from s3gate.policy.cedar import Bundle
from s3gate.s3.model import Metadata
from s3gate.transform.errors import MaskingHeld
from s3gate.transform.summary import MaskSummary

_STAMP_PREFIX = "x-amz-meta-s3gate-"


def finish_metadata(
    metadata: dict[str, str], summary: MaskSummary, bundle: Bundle, stored_md5_hex: str
) -> None:
    """The stored object's metadata after masking: the masking stamp, and
    client content hashes describing the stored bytes (see clientmeta)."""
    metadata.update({f"x-amz-meta-{k}": v for k, v in summary.as_metadata().items()})
    metadata[_STAMP_PREFIX + "bundle"] = bundle.hash[:16]
    clientmeta.describe(metadata, stored_md5_hex)


def unstamped(metadata: Metadata) -> dict[str, str]:
    """Metadata without a previous masking stamp (a copy is stamped anew)."""
    return {k: v for k, v in metadata.items() if not k.startswith(_STAMP_PREFIX)}


class HeldCatcher:
    """Lets a masking run that ends in a `hold` finish filling its spool: the
    engine raises MaskingHeld only after the last (masked) byte, with the held
    values already redacted, so the spool then holds what quarantine keeps."""

    def __init__(self) -> None:
        self.error: MaskingHeld | None = None

    async def watch(self, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for piece in pieces:
                yield piece
        except MaskingHeld as exc:
            self.error = exc
