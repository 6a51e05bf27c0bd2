"""Which writes carry S3 conditional headers, and the refusal of those the
gateway does not carry to the store. The pure precondition and range rules
live in the floor, `s3gate.s3.model`."""

from __future__ import annotations

from collections.abc import Mapping

from s3gate import errors

# ---- Conditional writes --------------------------------------------------------

# Writes whose If-Match / If-None-Match S3 evaluates against the target key.
CONDITIONAL_WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})


def refuse_conditional_write(headers: Mapping[str, str]) -> None:
    """s3gate does not (yet) carry write conditions to the store. Ignoring
    them would turn a client's "create only if absent" into an overwrite, so
    they are refused instead."""
    if "if-match" in headers or "if-none-match" in headers:
        raise errors.NotImplementedError_(
            "s3gate does not implement conditional writes (If-Match / If-None-Match on a write)"
        )
