"""Long-lived access keys from configuration, for service accounts."""

from __future__ import annotations

from collections.abc import Iterable

from s3gate.identity.principal import Credential, Principal
from s3gate.identity.settings import StaticKey


class StaticKeys:
    def __init__(self, keys: Iterable[StaticKey]) -> None:
        self._by_id: dict[str, Credential] = {}
        for key in keys:
            principal = Principal(
                subject=key.principal.name,
                access_key_id=key.access_key_id,
                source="static",
                groups=tuple(key.principal.groups),
            )
            self._by_id[key.access_key_id] = Credential(
                secret=key.secret_access_key.resolve(), principal=principal
            )

    def lookup(self, access_key_id: str) -> Credential | None:
        return self._by_id.get(access_key_id)

    def __len__(self) -> int:
        return len(self._by_id)
