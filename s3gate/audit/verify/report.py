"""What `audit verify` found: findings that name objects, and a summary.

Each finding has a kind an auditor can act on:

    modified     bytes differ from what was signed (bad signature, hash or size)
    deleted      a manifest or batch that the chain says exists is not there
    inserted     an object the chain does not account for
    reordered    a manifest stored under another sequence number than it holds
    unknown_key  signed with a key that is not trusted (forged or re-signed)
    stale_tail   no recent manifest: the tail was truncated, or the replica is down
    duplicate    an event recorded twice
    stopped      (warning) the chain ends with a clean shutdown
    unverified   (warning) part of the chain could not be checked
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    kind: str
    object: str | None
    message: str
    error: bool = True


@dataclass
class ReplicaSummary:
    replica: str
    first_sequence: int | None = None
    last_sequence: int | None = None
    manifests: int = 0
    heartbeats: int = 0
    batches: int = 0
    events: int = 0
    key_ids: set[str] = field(default_factory=set)
    last_signed_at: str | None = None
    last_age_seconds: float | None = None
    final: bool = False


@dataclass
class Report:
    bucket: str
    prefix: str
    trusted: list[str]
    replicas: list[ReplicaSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: str, obj: str | None, message: str, *, error: bool = True) -> None:
        self.findings.append(Finding(kind, obj, message, error))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        trusted = ", ".join(self.trusted) or "none"
        lines = [
            f"audit verify: s3://{self.bucket}/{self.prefix}/ — trusted keys: {trusted}",
        ]
        if not self.replicas:
            lines.append("  no replica chains found")
        for r in self.replicas:
            span = (
                f"manifests {r.first_sequence}..{r.last_sequence}"
                if r.first_sequence is not None
                else "no manifests"
            )
            age = "" if r.last_age_seconds is None else f", last {_age(r.last_age_seconds)} ago"
            end = " (stopped cleanly)" if r.final else ""
            keys = ", ".join(sorted(r.key_ids)) or "-"
            lines.append(
                f"  replica {r.replica}: {span} ({r.manifests} checked, "
                f"{r.heartbeats} heartbeats), {r.batches} batches, {r.events} events, "
                f"keys {keys}{age}{end}"
            )
        for f in self.findings:
            tag = "FAIL" if f.error else "warn"
            where = f" {f.object}" if f.object else ""
            lines.append(f"{tag} {f.kind:<11}{where}: {f.message}")
        errors = len(self.errors)
        lines.append(f"RESULT: {'OK' if errors == 0 else f'FAILED ({errors} problems)'}")
        return "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
