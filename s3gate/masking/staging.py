"""Masked multipart uploads, staged so that any replica can serve any step:
the parts (`stagedparts.PartStore`) and the claim on their completion
(`completions.CompletionClaims`), held by the masking service as one
`Staging` so the multipart handlers reach both through `call.masking.staging`.
"""

from __future__ import annotations

from collections.abc import Mapping

from s3gate.masking.completions import CompletionClaims
from s3gate.masking.stagedparts import PartStore


class Staging(PartStore, CompletionClaims):
    """Seals new uploads with the active key; any key of the ring opens, so an
    upload started before a key rotation completes after it."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active: str,
        expiry_seconds: int,
        lease_seconds: float = 60.0,
    ) -> None:
        PartStore.__init__(self, keys, active, expiry_seconds)
        CompletionClaims.__init__(self, lease_seconds)
