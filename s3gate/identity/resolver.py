"""Access key id (+ session token) → credential, whatever kind of key it is."""

from __future__ import annotations

from s3gate import errors
from s3gate.identity.principal import Credential
from s3gate.identity.static_keys import StaticKeys


class CredentialResolver:
    def __init__(self, static: StaticKeys) -> None:
        self._static = static

    def resolve(self, access_key_id: str, security_token: str | None) -> Credential:
        if security_token is not None:
            # Only STS sessions carry a token; a static key never does.
            raise errors.InvalidToken()
        found = self._static.lookup(access_key_id)
        if found is None:
            raise errors.InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key_id})
        return found
