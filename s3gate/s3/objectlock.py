"""Object Lock and retention: read through from the store, never set by clients.

Retention is what makes the audit bucket tamper-proof (docs/audit.md, "Object
Lock"), so it is configured at the store by whoever runs it, never through
the gateway: a client that could set a retention date or a legal hold could
make objects undeletable behind the policies' back. So every request that
carries an Object Lock header is refused with `InvalidRequest` naming the
header, before anything reaches the store; the sub-resources (`?retention`,
`?legal-hold`, `?object-lock`) are not operations of the gateway at all
(`NotImplemented`). `x-amz-bypass-governance-retention` is different: it
asks for nothing to be set, and tools send it on every clean-up (ceph's
s3-tests on each DeleteObjects), so it is accepted and, like every header
outside the stored set, never forwarded — the store decides a delete of a
locked version with the gateway's own credentials, which hold no
`s3:BypassGovernanceRetention` (docs/audit.md).
What the store says about an object's lock — its mode, retain-until date and
legal hold — is returned on GET and HEAD as the store sent it.
"""

from __future__ import annotations

from collections.abc import Mapping

from s3gate import errors

# Response headers describing a stored object version's lock (GET, HEAD).
LOCK_HEADERS = (
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)
_LOCK_PREFIX = "x-amz-object-lock-"
# Boolean request headers: `false` asks for nothing and is let through (SDKs
# send it on CreateBucket when the option is off).
_SWITCHES = ("x-amz-bucket-object-lock-enabled",)
_LOCK_TOKEN_HEADER = "x-amz-bucket-object-lock-token"  # noqa: S105 - a header name


def refuse_lock_headers(headers: Mapping[str, str]) -> None:
    """Raise InvalidRequest if the request asks for anything Object Lock.
    `headers` with lower-case names."""
    for name in headers:
        if name.startswith(_LOCK_PREFIX) or name == _LOCK_TOKEN_HEADER:
            raise _refused(name)
    for name in _SWITCHES:
        value = headers.get(name)
        if value is not None and value.strip().lower() != "false":
            raise _refused(name)


def lock_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The lock headers among a store's response headers."""
    return {name: headers[name] for name in LOCK_HEADERS if name in headers}


def _refused(name: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(
        f"s3gate does not let clients set Object Lock, retention or legal holds ({name}); "
        "they are configured at the store"
    )
