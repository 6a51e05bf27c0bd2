"""Errors a masking run can raise. Each is an S3 error the client sees.

Messages name rule ids, limits and content kinds, never a matched value.
"""

from __future__ import annotations

from collections.abc import Iterable

from s3gate import errors


def _ids(rule_ids: Iterable[str]) -> str:
    return ", ".join(sorted(set(rule_ids)))


class MaskingBlocked(errors.AccessDenied):
    """A `block` rule matched: the object is refused and nothing is stored."""

    def __init__(self, rule_ids: Iterable[str]) -> None:
        self.rule_ids = tuple(sorted(set(rule_ids)))
        super().__init__(f"Access Denied: content blocked by masking rule(s) {_ids(self.rule_ids)}")


class MaskingHeld(errors.AccessDenied):
    """A `hold` rule matched. Raised after the last masked byte (held values
    redacted), so a PutObject's output can go to quarantine instead
    (approvals/); elsewhere it refuses the object."""

    def __init__(self, rule_ids: Iterable[str]) -> None:
        self.rule_ids = tuple(sorted(set(rule_ids)))
        super().__init__(
            "Access Denied: content requires approval before it can be stored "
            f"(masking rule(s) {_ids(self.rule_ids)})"
        )


class MaskLimitExceeded(errors.EntityTooLarge):
    """A record, line or document is larger than the masking engine accepts."""

    def __init__(self, what: str, limit: int, setting: str) -> None:
        self.what = what
        self.limit = limit
        super().__init__(
            f"The object cannot be masked: a {what} exceeds the limit of {limit} bytes "
            f"(masking.{setting})"
        )


class UnreadableContent(errors.InvalidRequest):
    """The body cannot be decoded as declared (for example, corrupt gzip)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The object cannot be masked: {reason}")


class MaskingFailed(errors.InternalError):
    """A detector or transform failed: fail closed."""
