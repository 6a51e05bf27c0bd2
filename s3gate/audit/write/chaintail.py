"""The shipper's view of its own chain in the bucket, checked before writing.

A replica's chain must have exactly one writer. These checks keep a second
process with the same replica id (or a state directory restored from an old
copy) from overwriting manifests, which would fork the chain: the shipper
stops shipping (events stay spooled) and reports `ChainConflict` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s3gate.audit import canonical, manifest
from s3gate.audit.bucket import get_bytes, list_keys, put_bytes
from s3gate.audit.keys import KeyRing
from s3gate.audit.layout import Layout
from s3gate.audit.write.state import ShipState
from s3gate.upstream.base import Upstream

_CLASH = (
    "another process uses replica id {!r}, or the state directory was restored "
    "from an old copy; not shipping"
)


class ChainConflict(Exception):
    """The bucket holds a chain for this replica that this state did not write."""


@dataclass(frozen=True)
class Tail:
    key: str
    data: bytes
    document: dict[str, Any]


@dataclass(frozen=True)
class BucketChain:
    upstream: Upstream
    bucket: str
    layout: Layout
    replica: str

    async def publish_keys(self, keys: KeyRing) -> None:
        """Public keys as objects (same bytes every time: idempotent)."""
        for key in keys.published:
            pem, jwk = self.layout.key_pem(key.kid), self.layout.key_jwk(key.kid)
            await put_bytes(self.upstream, self.bucket, pem, key.pem(), "application/x-pem-file")
            await put_bytes(self.upstream, self.bucket, jwk, key.jwk_bytes(), "application/json")

    async def check_no_fork(self, state: ShipState) -> None:
        """Nothing may follow the state's last manifest but its own pending one."""
        after = self.layout.manifest_key(self.replica, state.sequence)
        prefix = self.layout.manifests_prefix(self.replica)
        async for key in list_keys(self.upstream, self.bucket, prefix, after=after):
            if state.pending is None or key != state.pending.manifest_key:
                raise ChainConflict(
                    f"{key} exists but this replica's state ends at sequence {state.sequence}: "
                    + _CLASH.format(self.replica)
                )
            break

    async def check_free(self, key: str, body: bytes) -> None:
        """Before writing manifest `key`: absent, or these very bytes (a re-ship)."""
        existing = await get_bytes(self.upstream, self.bucket, key)
        if existing is not None and existing != body:
            raise ChainConflict(
                f"{key} already holds another manifest: " + _CLASH.format(self.replica)
            )

    async def tail(self, keys: KeyRing) -> Tail | None:
        """The chain's last manifest, checked to be ours (signed by one of our
        keys, for this replica, under its own name); None if there is none."""
        last = None
        prefix = self.layout.manifests_prefix(self.replica)
        async for key in list_keys(self.upstream, self.bucket, prefix):
            last = key
        if last is None:
            return None
        data = await get_bytes(self.upstream, self.bucket, last)
        if data is None:
            raise ChainConflict(f"{last} disappeared while resuming the chain")
        try:
            document = canonical.decode(data)
            problem = manifest.malformed(document) or manifest.check_signature(
                document, keys.trusted()
            )
        except ValueError as exc:
            problem = str(exc)
        if problem is None:
            expected = self.layout.manifest_key(self.replica, document["sequence"])
            if expected != last or document["replica_id"] != self.replica:
                problem = "name, sequence or replica do not match"
        if problem is not None:
            raise ChainConflict(f"cannot continue the chain at {last}: {problem}")
        return Tail(last, data, document)
