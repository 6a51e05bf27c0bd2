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


class HeaderRefused(errors.InvalidArgument):
    """A stored header holds content the profiles find and that cannot be
    rewritten in it (or cannot be inspected): the write is refused. The
    message names the header and the rules, never the value."""

    def __init__(self, header: str, rule_ids: Iterable[str], *, reason: str = "") -> None:
        self.header = header
        self.rule_ids = tuple(sorted(set(rule_ids)))
        why = reason or f"content found by masking rule(s) {_ids(self.rule_ids)}"
        super().__init__(
            f"The {header} header cannot be stored: it holds {why}, and its value "
            "cannot be rewritten safely; remove it or move the content into the body",
            extra={"ArgumentName": header},
        )


class TagRefused(errors.InvalidTag):
    """A tag key holds content the profiles find: a key cannot be rewritten
    (its replacement would be another tag), so the write is refused. The
    message names the rules, never the key."""

    def __init__(self, rule_ids: Iterable[str]) -> None:
        self.rule_ids = tuple(sorted(set(rule_ids)))
        super().__init__(
            "A tag key cannot be stored: it holds content found by masking rule(s) "
            f"{_ids(self.rule_ids)}, and a key cannot be rewritten; move the content "
            "into the tag's value or the body"
        )


class KeyRefused(errors.InvalidArgument):
    """An object key holds content the profiles find: a key cannot be
    rewritten (its replacement would be another object), and it reaches the
    store, every listing and every reader, so the write is refused. The
    message names the rules, never the key."""

    def __init__(self, rule_ids: Iterable[str]) -> None:
        self.rule_ids = tuple(sorted(set(rule_ids)))
        super().__init__(
            "The object key cannot be stored: it holds content found by masking rule(s) "
            f"{_ids(self.rule_ids)}, and a key cannot be rewritten; choose a key without "
            "it and keep the content in the body",
            extra={"ArgumentName": "key"},
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


class UnsupportedCoding(errors.InvalidArgument):
    """A Content-Encoding the gateway cannot decode, so cannot inspect."""

    def __init__(self, coding: str, supported: Iterable[str]) -> None:
        shown = "".join(c for c in coding if c.isprintable())[:64]
        super().__init__(
            f"The object cannot be masked: Content-Encoding {shown!r} is not one the gateway "
            f"decodes ({', '.join(supported)})",
            extra={"ArgumentName": "Content-Encoding", "ArgumentValue": shown},
        )


class CodingTooDeep(errors.InvalidArgument):
    """Compression inside compression, deeper than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The object cannot be masked: it is compressed more than {limit} layer(s) deep "
            "(masking.max_coding_layers)"
        )


class InflationLimitExceeded(errors.EntityTooLarge):
    """A compressed body inflates past the configured size or ratio."""

    def __init__(self, limit: str, setting: str) -> None:
        super().__init__(
            f"The object cannot be masked: its compressed body inflates past {limit} "
            f"(masking.{setting})"
        )


class NestedTooDeep(errors.InvalidRequest):
    """JSON nested deeper than Python's parser can follow (`[[[[…`)."""

    def __init__(self) -> None:
        super().__init__("The object cannot be masked: its JSON is nested too deeply")


class HiddenContent(MaskingBlocked):
    """Masked output shows a finding only once its escapes (`\\u0040`) are
    undone or invisible characters (U+200B, soft hyphen, NUL…) removed: such
    a value cannot be rewritten in place exactly, so the object is refused
    (`AccessDenied`, as a block). The message names the rules, never the value."""

    def __init__(self, rule_ids: Iterable[str]) -> None:
        super().__init__(rule_ids)
        self.message = (
            f"Access Denied: content found by masking rule(s) {_ids(self.rule_ids)} "
            "once escapes are undone or invisible characters removed; it cannot be "
            "masked in place, so the object is refused"
        )
        self.args = (f"{self.error_code}: {self.message}",)
