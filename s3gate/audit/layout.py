"""Where audit objects live in the audit bucket.

    <prefix>/keys/<kid>.pem                                   public key, PEM
    <prefix>/keys/<kid>.json                                  public key, JWK
    <prefix>/replicas/<replica>/batches/<seq:012d>.jsonl.gz   events of manifest <seq>
    <prefix>/replicas/<replica>/manifests/<seq:012d>.json     signed manifest <seq>

A manifest and its batch share the sequence number, so each key is written
once per sequence and a re-ship overwrites it with the same bytes. Zero-padded
numbers list in chain order.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCH_SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".json"
_DIGITS = 12


@dataclass(frozen=True)
class Layout:
    prefix: str = "s3gate/v1"

    @property
    def keys_prefix(self) -> str:
        return f"{self.prefix}/keys/"

    @property
    def replicas_prefix(self) -> str:
        return f"{self.prefix}/replicas/"

    def key_pem(self, kid: str) -> str:
        return f"{self.keys_prefix}{kid}.pem"

    def key_jwk(self, kid: str) -> str:
        return f"{self.keys_prefix}{kid}.json"

    def manifests_prefix(self, replica: str) -> str:
        return f"{self.replicas_prefix}{replica}/manifests/"

    def batches_prefix(self, replica: str) -> str:
        return f"{self.replicas_prefix}{replica}/batches/"

    def manifest_key(self, replica: str, sequence: int) -> str:
        return f"{self.manifests_prefix(replica)}{sequence:0{_DIGITS}d}{MANIFEST_SUFFIX}"

    def batch_key(self, replica: str, sequence: int) -> str:
        return f"{self.batches_prefix(replica)}{sequence:0{_DIGITS}d}{BATCH_SUFFIX}"


def sequence_of(key: str, suffix: str) -> int | None:
    """The sequence number a well-formed object name carries, else None."""
    name = key.rpartition("/")[2]
    stem = name.removesuffix(suffix)
    if stem == name or len(stem) != _DIGITS or not stem.isdigit():
        return None
    return int(stem)
