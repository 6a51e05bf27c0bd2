"""Built-in guards, checked before any policy: no policy can loosen them.

- The audit bucket is read-only through the gateway: only the actions in
  `AUDIT_BUCKET_ACTIONS` reach the policies there. It is an allow-list, so an
  action added later is refused on the audit bucket until someone decides
  otherwise.
- Internal prefixes (places the gateway keeps for itself) are unreachable:
  every action on them is refused, reads and listings included. A listing
  *above* an internal prefix is decided by the policies, and the per-key and
  per-common-prefix decisions on its results hide the internal entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from s3gate.policy.model import Resource

AUDIT_GUARD = "builtin:audit-bucket-readonly"
INTERNAL_GUARD = "builtin:internal-prefix"

AUDIT_BUCKET_ACTIONS = frozenset(
    {
        "GetObject",
        "HeadObject",
        "GetObjectAcl",
        "GetObjectTagging",
        "ListObjects",
        "ListObjectsV2",
        "ListMultipartUploads",
        "ListParts",
        "ListBuckets",
        "HeadBucket",
        "GetBucketLocation",
        "GetBucketAcl",
        "ListObjectVersions",
        # Auditors check that versions (which Object Lock needs) are on.
        "GetBucketVersioning",
    }
)


@dataclass(frozen=True)
class GuardDenial:
    guard: str
    reason: str


class Guards:
    def __init__(self, audit_bucket: str, internal_prefixes: Iterable[str]) -> None:
        self.audit_bucket = audit_bucket
        pairs = [entry.partition("/") for entry in internal_prefixes]
        self._internal = tuple((bucket, prefix) for bucket, _, prefix in pairs)

    def check(self, action: str, resource: Resource) -> GuardDenial | None:
        if self.is_internal(resource):
            return GuardDenial(INTERNAL_GUARD, f"{resource} is internal to the gateway")
        if resource.bucket == self.audit_bucket and action not in AUDIT_BUCKET_ACTIONS:
            return GuardDenial(
                AUDIT_GUARD, f"{action} is not allowed on the audit bucket {self.audit_bucket!r}"
            )
        return None

    def internal_prefix(self, bucket: str, key: str) -> str | None:
        """The internal key prefix of `bucket` that `key` lies in, if any
        (listings skip past it in one step instead of paging through it)."""
        for where, prefix in self._internal:
            if where in ("*", bucket) and prefix and key.startswith(prefix):
                return prefix
        return None

    def is_internal(self, resource: Resource) -> bool:
        for bucket, prefix in self._internal:
            if bucket not in ("*", resource.bucket):
                continue
            if resource.kind == "Bucket":
                if not prefix:  # the whole bucket is internal
                    return True
            elif resource.key.startswith(prefix):
                return True
        return False
