"""What a masking run did, in counts only: never a matched value.

The gateway stores `as_metadata()` with the object and puts the summary in
the audit event; `s3gate mask --explain` prints `explain()`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MaskSummary:
    profiles: tuple[str, ...] = ()
    content_kind: str = ""  # jsonl | json | text | binary
    compressed: bool = False
    codings: tuple[str, ...] = ()  # content codings undone, outer first
    charset: str = ""  # the text encoding transcoded or checked ("": as is)
    # Replacements per built-in or custom detector id.
    detectors: Counter[str] = field(default_factory=Counter)
    # Values handled per field rule ("profile:rule").
    rules: Counter[str] = field(default_factory=Counter)
    # Replacements per operator kind.
    operators: Counter[str] = field(default_factory=Counter)
    records: int = 0  # JSONL records or text lines (JSON document: 1)
    records_masked: int = 0
    records_malformed: int = 0  # JSON that fell back to the text detectors
    # Records left out by `reject_record` record rules: per rule
    # ("profile:rule"; a record two rules reject counts for both), in all,
    # and the line numbers per rule (the first `records.MAX_LINES`; never content).
    rejected: Counter[str] = field(default_factory=Counter)
    records_rejected: int = 0
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    blocked: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    complete: bool = False

    @property
    def replacements(self) -> int:
        return sum(self.operators.values())

    def as_dict(self) -> dict[str, object]:
        out = self._counts_dict()
        if self.records_rejected:  # only then: summaries without record rules read as before
            out["rejected"] = dict(sorted(self.rejected.items()))
            out["records_rejected"] = self.records_rejected
            out["rejected_lines"] = {k: list(v) for k, v in sorted(self.rejected_lines.items())}
        return out

    def _counts_dict(self) -> dict[str, object]:
        return {
            "profiles": list(self.profiles),
            "content": self.content_kind,
            "compressed": self.compressed,
            "codings": list(self.codings),
            "charset": self.charset,
            "detectors": dict(sorted(self.detectors.items())),
            "rules": dict(sorted(self.rules.items())),
            "operators": dict(sorted(self.operators.items())),
            "records": self.records,
            "records_masked": self.records_masked,
            "records_malformed": self.records_malformed,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "blocked": list(self.blocked),
            "held": list(self.held),
            "complete": self.complete,
        }

    def as_metadata(self) -> dict[str, str]:
        """User metadata for the stored object (short; S3 caps it at 2 KiB)."""
        counts = {**self.detectors, **self.rules}
        compact = ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
        stamp = {
            "s3gate-mask-profiles": ",".join(self.profiles),
            "s3gate-mask-counts": compact[:1024],
        }
        if self.records_rejected:
            rejected = ",".join(f"{k}={v}" for k, v in sorted(self.rejected.items()))
            stamp["s3gate-mask-rejected"] = rejected[:512]
            stamp["s3gate-mask-rejected-records"] = str(self.records_rejected)
        return stamp

    def _form(self) -> str:
        form = [*self.codings, *([self.charset] if self.charset else [])]
        return f" ({', '.join(form)})" if form else ""

    def explain(self) -> str:
        lines = [
            f"profiles: {', '.join(self.profiles) or '-'}",
            f"content: {self.content_kind}{self._form()}",
            f"records: {self.records} ({self.records_masked} masked, "
            f"{self.records_malformed} malformed JSON masked as text)",
            f"bytes: {self.bytes_in} in, {self.bytes_out} out",
        ]
        if self.records_rejected:
            lines.append(f"records rejected: {self.records_rejected}")
            for rule, count in sorted(self.rejected.items()):
                shown = self.rejected_lines.get(rule, [])
                more = count - len(shown)
                where = ", ".join(map(str, shown)) + (f" and {more} more" if more > 0 else "")
                lines.append(f"  rejected  {rule:<40} {count:>8}  lines {where}")
        if self.blocked:
            lines.append(f"blocked by: {', '.join(self.blocked)}")
        if self.held:
            lines.append(f"held by: {', '.join(self.held)}")
        for title, counter in (
            ("detector", self.detectors),
            ("rule", self.rules),
            ("operator", self.operators),
        ):
            for name, count in sorted(counter.items()):
                lines.append(f"  {title:<9} {name:<40} {count:>8}")
        if not self.replacements and not self.records_rejected:
            lines.append("  nothing masked")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)
