"""The keys a gateway process builds at start-up from its settings.

- Masking token keys: `masking.token_keys` (JSON secret); when unset, a
  development key file under `data_dir` (fine for one replica; replicas that
  must produce the same tokens need the same configured keys).
- The key that seals listing positions (and staged uploads): derived from the
  active STS session key, which every replica shares; without session keys,
  a key of this process only.
"""

from __future__ import annotations

import logging
import os

from s3gate.config import ConfigError, Settings
from s3gate.s3.tokens import ListTokens, derive_key
from s3gate.transform.tokens import TokenKeyError, TokenKeys, dev_keys

log = logging.getLogger("s3gate")


def token_keys(settings: Settings) -> TokenKeys:
    secret = settings.masking.token_keys
    try:
        if secret is not None:
            return TokenKeys.from_json(secret.resolve())
        path = settings.data_dir / "masking" / "token-keys.json"
        log.warning("masking.token_keys is not set: using the local key file %s", path)
        return dev_keys(path)
    except TokenKeyError as exc:
        raise ConfigError(f"masking.token_keys: {exc}") from exc


def shared_secret(settings: Settings) -> bytes | None:
    """The active session key's bytes: the one secret all replicas share."""
    identity = settings.identity
    for key in identity.session_keys:
        if key.id == identity.active_session_key:
            return key.key_bytes()
    return None


def staging_key(settings: Settings) -> bytes:
    secret = shared_secret(settings)
    if secret is None:
        log.warning(
            "identity.session_keys is not set: masked multipart uploads can only be "
            "completed by this process"
        )
        return os.urandom(32)
    return derive_key(secret, b"s3gate staged uploads v1")


def list_tokens(settings: Settings) -> ListTokens:
    secret = shared_secret(settings)
    if secret is None:
        return ListTokens.ephemeral()
    return ListTokens(derive_key(secret, b"s3gate list tokens v1"))
