"""Keys every replica derives alike from the STS session keys.

The session keys (`identity.session_keys`) are the one secret all replicas
of a deployment share, so keys that must work across replicas are derived
from them with HKDF, one `purpose` each: listing positions
(`s3.listtokens`), staged multipart uploads (`masking.keys`), held writes
(`approvals.keys`). Rotating the session keys rotates these with them; the
old ones stay listed, so what was sealed under them still opens.
"""

from __future__ import annotations

import logging
import os

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from s3gate.identity.settings import IdentitySettings

log = logging.getLogger("s3gate")

Ring = tuple[dict[str, bytes], str]

LIST_TOKENS = b"s3gate list tokens v1"
STAGED_UPLOADS = b"s3gate staged uploads v1"
APPROVALS = b"s3gate approvals v1"
APPROVALS_WEB = b"s3gate approvals web cookies v1"


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(secret)


def shared_keys(identity: IdentitySettings, purpose: bytes) -> Ring | None:
    """Keys derived for `purpose` from every session key, and the active
    one's id; None without session keys."""
    if not identity.session_keys or identity.active_session_key is None:
        return None
    keys = {k.id: derive_key(k.key_bytes(), purpose) for k in identity.session_keys}
    return keys, identity.active_session_key


def shared_or_local(identity: IdentitySettings, purpose: bytes, without: str) -> Ring:
    """`shared_keys`, or without session keys a random key of this process
    (what it seals cannot be opened by another replica or after a restart;
    the warning `without` says what that costs)."""
    ring = shared_keys(identity, purpose)
    if ring is None:
        log.warning("identity.session_keys is not set: %s", without)
        return {"local": os.urandom(32)}, "local"
    return ring
