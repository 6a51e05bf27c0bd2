"""`audit show`: a timeline of what happened, read from the audit bucket.

The chain is walked by the verifier (`verify.Verifier`), so every event shown
is marked verified (signature, chain link and batch hash all check out) or
UNVERIFIED; problems found on the way are printed after the timeline. With
`--json` the matching events are printed as canonical JSON lines, ready to be
replayed or fed to other tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from s3gate.audit import canonical
from s3gate.audit.keys import PublicKey
from s3gate.audit.verify.reader import AuditReader
from s3gate.audit.verify.report import Report
from s3gate.audit.verify.verifier import BatchEvents, Verifier


@dataclass(frozen=True)
class Filters:
    request_id: str | None = None
    subject: str | None = None
    bucket: str | None = None
    key: str | None = None  # exact, or a prefix when it ends with "*"
    since: datetime | None = None
    until: datetime | None = None
    approval_id: str | None = None  # every `approval.*` event of one hold

    def match(self, event: dict[str, Any]) -> bool:
        if self.request_id is not None and event.get("request_id") != self.request_id:
            return False
        if self.approval_id is not None and (
            (event.get("details") or {}).get("approval_id") != self.approval_id
        ):
            return False
        if self.subject is not None:
            principal = event.get("principal") or {}
            if principal.get("subject") != self.subject:
                return False
        if self.bucket is not None and event.get("bucket") != self.bucket:
            return False
        if self.key is not None and not _key_matches(self.key, event.get("key")):
            return False
        time = event.get("time", "")
        if self.since is not None and time < canonical.format_time(self.since):
            return False
        return self.until is None or time <= canonical.format_time(self.until)


def _key_matches(pattern: str, key: object) -> bool:
    if not isinstance(key, str):
        return False
    if pattern.endswith("*"):
        return key.startswith(pattern[:-1])
    return key == pattern


@dataclass(frozen=True)
class Entry:
    event: dict[str, Any]
    verified: bool
    manifest_key: str


async def timeline(
    reader: AuditReader,
    trusted: dict[str, PublicKey],
    filters: Filters,
    *,
    now: datetime,
    max_heartbeat_age: float,
    replicas: list[str] | None = None,
) -> tuple[list[Entry], Report]:
    """Matching events of every replica, in time order, and the verification report."""
    found: list[Entry] = []

    async def collect(batch: BatchEvents) -> None:
        for event in batch.events:
            if filters.match(event):
                found.append(Entry(event, batch.verified, batch.manifest_key))

    verifier = Verifier(
        reader,
        trusted,
        now=now,
        max_heartbeat_age=max_heartbeat_age,
        since=filters.since,
        on_batch=collect,
        read_unverified=True,
    )
    report = await verifier.run(replicas)
    found.sort(key=lambda e: (e.event["time"], e.event["id"]))
    return found, report


# What a value from a client (an object key, a token's subject, a reason) may
# not carry onto an auditor's or approver's terminal as it is: control
# characters (a newline starts a forged line, ESC sequences move the cursor or
# rewrite what is shown), Unicode line breaks, and bidirectional overrides,
# which reorder how a line reads (Trojan Source). The backslash is escaped too,
# so an escape in the output always means one in the value.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep: str = "") -> str:
    """`text` with every character a terminal would act on escaped
    (`\\x0a`, `\\u202e`, `\\\\`), except those in `keep` (a preview keeps
    its newlines)."""
    if keep:
        return "".join(
            part if part in keep else _UNSAFE.sub(_escape, part)
            for part in re.split(f"([{re.escape(keep)}])", text)
        )
    return _UNSAFE.sub(_escape, text)


def render_line(entry: Entry) -> str:
    """One line per event: time, type, then what is known (request events
    keep fixed columns so a session lines up), then the verification mark."""
    e = entry.event
    mark = "[ok]" if entry.verified else "[UNVERIFIED]"
    parts = [e["time"], e.get("type", "?")]
    if e.get("operation") or e.get("principal") or e.get("bucket"):
        principal = e.get("principal") or {}
        who = principal.get("subject") or "-"
        if principal.get("role"):
            who += f"[{principal['role']}]"
        target = "/".join(x for x in (e.get("bucket"), e.get("key")) if x) or "-"
        if e.get("range"):
            target += f" ({e['range']})"
        verdict = "/".join(x for x in (e.get("decision"), e.get("outcome")) if x) or "-"
        status = e.get("status")
        parts += [
            e.get("operation") or "-",
            target,
            who,
            verdict,
            "-" if status is None else str(status),
        ]
    extra = []
    if e.get("error_code"):
        extra.append(f"error={e['error_code']}")
    for name, label in (("bytes_in", "in"), ("bytes_out", "out")):
        if e.get(name) is not None:
            extra.append(f"{label}={e[name]}")
    masking = e.get("masking")
    if masking:
        counts = ",".join(f"{k}={v}" for k, v in sorted(masking.get("counts", {}).items()))
        extra.append(f"mask={masking.get('profile')}({counts})")
        if masking.get("rejected"):
            rejected = ",".join(f"{k}={v}" for k, v in sorted(masking["rejected"].items()))
            extra.append(f"rejected=({rejected})")
    if e.get("policy_ids"):
        extra.append("policies=" + ",".join(e["policy_ids"]))
    elif e.get("decision") == "deny":
        extra.append("policies=none")  # default deny (or an evaluation error: see the log)
    extra += [f"{k}={v}" for k, v in sorted((e.get("details") or {}).items()) if v is not None]
    if e.get("request_id"):
        extra.append(f"req={e['request_id']}")
    extra.append(f"replica={e.get('replica_id')}")
    # Every field may hold client text (keys, subjects, details): escaped as
    # one line, so an event shows as exactly one line whatever it carries.
    return printable("  ".join([*parts, " ".join(extra), mark]))


def render(entries: list[Entry], *, json_lines: bool = False) -> str:
    if json_lines:
        return "\n".join(canonical.encode(e.event).decode() for e in entries)
    if not entries:
        return "no matching events"
    return "\n".join(render_line(e) for e in entries)
