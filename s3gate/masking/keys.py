"""The keys the masking service runs with, from its settings.

- Token keys of the `tokenize` operator: `masking.token_keys` (a JSON
  secret); when unset, a development key file under `data_dir` (fine for one
  replica; replicas that must produce the same tokens need the same
  configured keys).
- The key that seals staged multipart parts: shared by the replicas
  (`identity.sharedkeys`), so any of them can complete an upload.
"""

from __future__ import annotations

import logging
from pathlib import Path

from s3gate.configbase import ConfigError
from s3gate.identity.settings import IdentitySettings
from s3gate.identity.sharedkeys import STAGED_UPLOADS, Ring, shared_or_local
from s3gate.transform.settings import MaskingSettings
from s3gate.transform.tokenkeys import TokenKeyError, TokenKeys, dev_keys

log = logging.getLogger("s3gate")


def token_keys(masking: MaskingSettings, data_dir: Path) -> TokenKeys:
    secret = masking.token_keys
    try:
        if secret is not None:
            return TokenKeys.from_json(secret.resolve())
        path = data_dir / "masking" / "token-keys.json"
        log.warning("masking.token_keys is not set: using the local key file %s", path)
        return dev_keys(path)
    except TokenKeyError as exc:
        raise ConfigError(f"masking.token_keys: {exc}") from exc


def staging_keys(identity: IdentitySettings) -> Ring:
    return shared_or_local(
        identity,
        STAGED_UPLOADS,
        "masked multipart uploads can only be completed by this process",
    )
