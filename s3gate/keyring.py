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
from s3gate.s3.listtokens import ListTokens, derive_key
from s3gate.transform.tokenkeys import TokenKeyError, TokenKeys, dev_keys

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


def shared_keys(settings: Settings, purpose: bytes) -> tuple[dict[str, bytes], str] | None:
    """Keys derived for `purpose` from every STS session key (the secrets all
    replicas share), and the active one's id; None without session keys."""
    identity = settings.identity
    if not identity.session_keys or identity.active_session_key is None:
        return None
    keys = {k.id: derive_key(k.key_bytes(), purpose) for k in identity.session_keys}
    return keys, identity.active_session_key


def staging_keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    ring = shared_keys(settings, b"s3gate staged uploads v1")
    if ring is None:
        log.warning(
            "identity.session_keys is not set: masked multipart uploads can only be "
            "completed by this process"
        )
        return {"local": os.urandom(32)}, "local"
    return ring


def list_tokens(settings: Settings) -> ListTokens:
    ring = shared_keys(settings, b"s3gate list tokens v1")
    return ListTokens.ephemeral() if ring is None else ListTokens(*ring)


def approval_keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    """The key that seals quarantined writes and approval state: shared by
    every replica (derived from the session keys), so any one can release."""
    ring = shared_keys(settings, b"s3gate approvals v1")
    if ring is None:
        log.warning(
            "identity.session_keys is not set: held writes can only be decided by this process"
        )
        return {"local": os.urandom(32)}, "local"
    return ring
