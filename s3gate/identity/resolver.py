"""Access key id (+ session token) → credential, whatever kind of key it is."""

from __future__ import annotations

from s3gate import errors
from s3gate.identity.principal import Credential
from s3gate.identity.sessions import SessionSealer
from s3gate.identity.static_keys import StaticKeys


class CredentialResolver:
    def __init__(self, static: StaticKeys, sessions: SessionSealer | None = None) -> None:
        self._static = static
        self._sessions = sessions

    def resolve(self, access_key_id: str, security_token: str | None) -> Credential:
        if security_token is not None:
            # Only STS sessions carry a token; a static key never does, and
            # without session keys no token can be genuine.
            if self._sessions is None:
                raise errors.InvalidToken()
            return self._sessions.open(security_token, access_key_id)
        found = self._static.lookup(access_key_id)
        if found is None:
            raise errors.InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key_id})
        return found
