"""The verifier: checks every replica chain in the audit bucket.

For each replica, in sequence order (docs/audit.md, "Verification"):
1. manifest names are `<12 digits>.json`, contiguous from 1 (or from the
   first manifest signed at or after `since`): a gap is a deleted manifest;
2. each manifest is canonical JSON of the manifest schema, for this replica,
   holding the sequence number of its name (else reordered or moved);
3. its signature verifies under a trusted key (else unknown key / modified);
4. its `previous` link equals the SHA-256 and signature of the manifest
   before it (else the chain was broken by a replacement or insertion);
5. each batch it lists exists with that SHA-256 and size, and holds that many
   canonical events of this replica, none seen before;
6. batches no manifest lists are reported (inserted), except one in flight;
7. the newest manifest is younger than `max_heartbeat_age` (else the tail was
   truncated or the replica stopped writing; a clean `final` stop is a warning).

`on_batch` receives every batch's events with whether they verified, which is
how `audit show` reads a timeline while checking it.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from s3gate.audit import canonical, manifest
from s3gate.audit.keys import PublicKey
from s3gate.audit.layout import BATCH_SUFFIX, MANIFEST_SUFFIX, sequence_of
from s3gate.audit.verify.batchcheck import BatchChecker
from s3gate.audit.verify.reader import AuditReader
from s3gate.audit.verify.report import ReplicaSummary, Report

PREFETCH = 8
# Missing manifests named one by one, up to this many per gap.
MAX_NAMED = 100
# Manifest links remembered (by claimed sequence) to check reordered chains.
WINDOW = 4096


@dataclass(frozen=True)
class BatchEvents:
    replica: str
    manifest_key: str
    sequence: int
    events: list[dict[str, Any]]
    verified: bool


OnBatch = Callable[[BatchEvents], Awaitable[None]]


@dataclass
class _Walk:
    """Per-replica state while walking a chain."""

    replica: str
    summary: ReplicaSummary
    links: OrderedDict[int, tuple[str, str]]  # claimed sequence → (sha256, signature)
    referenced: set[str]
    missing: set[int] = field(default_factory=set)
    last_valid: dict[str, Any] | None = None


class Verifier:
    def __init__(
        self,
        reader: AuditReader,
        trusted: dict[str, PublicKey],
        *,
        now: datetime,
        max_heartbeat_age: float,
        since: datetime | None = None,
        require_live: bool = False,
        on_batch: OnBatch | None = None,
        read_unverified: bool = False,
    ) -> None:
        """`read_unverified`: still read the batches of manifests whose
        signature does not verify (handed to `on_batch` as unverified)."""
        self.reader = reader
        self.layout = reader.layout
        self.trusted = trusted
        self.now = now
        self.max_age = max_heartbeat_age
        self.since = None if since is None else canonical.format_time(since)
        self.require_live = require_live
        self.on_batch = on_batch
        self.read_unverified = read_unverified
        self.report = Report(reader.bucket, self.layout.prefix, sorted(trusted))
        self.batches = BatchChecker(reader, self.report)

    async def run(self, replicas: list[str] | None = None) -> Report:
        names = replicas if replicas else await self.reader.replicas()
        for name in names:
            await self._replica(name)
        return self.report

    # ---- one replica -------------------------------------------------------------

    async def _replica(self, replica: str) -> None:
        summary = ReplicaSummary(replica)
        self.report.replicas.append(summary)
        chain: list[tuple[int, str]] = []
        # Batches are listed before manifests: while the replica ships, any
        # batch listed then has its manifest listed too, unless that upload
        # is in flight (the one after the last). Listed the other way round,
        # a shipment in between would look like a batch no manifest lists.
        batch_keys = await self.reader.keys(self.layout.batches_prefix(replica))
        for key in await self.reader.keys(self.layout.manifests_prefix(replica)):
            seq = sequence_of(key, MANIFEST_SUFFIX)
            if seq is None:
                self.report.add("inserted", key, "unexpected object among the manifests")
            else:
                chain.append((seq, key))
        if not chain:
            self.report.add("deleted", self.layout.manifests_prefix(replica), "no manifests")
            return
        start = await self._start_index(chain) if self.since else 0
        walk = _Walk(replica, summary, OrderedDict(), set())
        if start > 0:
            await self._seed(walk, chain[start - 1])
        elif chain[0][0] != 1:  # the head of the chain is gone
            self._gap(replica, 1, chain[0][0])
            walk.missing.update(range(1, chain[0][0]))
        summary.first_sequence = chain[start][0]
        expected = chain[start][0]
        fetched = self.reader.prefetch(replica, chain[start:], set(batch_keys), PREFETCH)
        async for seq, key, data, batch in fetched:
            if seq != expected:
                self._gap(replica, expected, seq)
                walk.missing.update(range(expected, seq))
            expected = seq + 1
            summary.last_sequence = seq
            await self._manifest(walk, seq, key, data, batch)
        self._unreferenced(walk, batch_keys, chain[start][0], chain[-1][0])
        self._freshness(walk, chain[-1][1])

    async def _start_index(self, chain: list[tuple[int, str]]) -> int:
        """Index of the first manifest signed at or after `since` (binary
        search; an unreadable manifest counts as later, to start earlier)."""
        low, high = 0, len(chain)
        while low < high:
            mid = (low + high) // 2
            data = await self.reader.get(chain[mid][1])
            signed = None
            with contextlib.suppress(ValueError, AttributeError):
                signed = canonical.decode(data or b"").get("signed_at")
            if isinstance(signed, str) and self.since is not None and signed < self.since:
                low = mid + 1
            else:
                high = mid
        return min(low, len(chain) - 1)

    async def _seed(self, walk: _Walk, entry: tuple[int, str]) -> None:
        """The manifest just before the `since` window: the window's first link
        points at it, so it must be intact too (its batch is not checked)."""
        seq, key = entry
        data = await self.reader.get(key)
        if data is None:
            self.report.add("deleted", key, "missing (the first manifest checked links to it)")
            return
        try:
            document = canonical.decode(data)
            problem = manifest.malformed(document) or manifest.check_signature(
                document, self.trusted
            )
        except ValueError as exc:
            problem = f"not a canonical manifest: {exc}"
        if problem is not None:
            kind = "unknown_key" if problem.startswith("unknown key") else "modified"
            self.report.add(kind, key, problem)
        elif document["sequence"] != seq or document["replica_id"] != walk.replica:
            self.report.add("reordered", key, f"holds manifest sequence {document['sequence']}")
        else:
            walk.links[seq] = (manifest.digest(data), document["signature"])

    def _gap(self, replica: str, expected: int, found: int) -> None:
        """Manifests expected..found-1 are missing: each is named (up to a
        limit, then one line for the rest)."""
        missing = range(expected, found)
        for seq in missing[:MAX_NAMED]:
            key = self.layout.manifest_key(replica, seq)
            self.report.add("deleted", key, "manifest missing from the chain")
        if len(missing) > MAX_NAMED:
            last = self.layout.manifest_key(replica, found - 1)
            self.report.add(
                "deleted", last, f"… {len(missing) - MAX_NAMED} more missing manifests up to here"
            )

    # ---- one manifest ------------------------------------------------------------

    async def _manifest(
        self, walk: _Walk, seq: int, key: str, data: bytes | None, batch: bytes | None
    ) -> None:
        report = self.report
        if data is None:
            report.add("deleted", key, "listed but could not be read (deleted meanwhile?)")
            return
        try:
            doc = canonical.decode(data)
            malformed = manifest.malformed(doc)
            if malformed is not None:
                raise ValueError(malformed)
        except ValueError as exc:
            report.add("modified", key, f"not a canonical manifest: {exc}")
            return
        walk.summary.manifests += 1
        problem = manifest.check_signature(doc, self.trusted)
        if problem is not None:
            kind = "unknown_key" if problem.startswith("unknown key") else "modified"
            report.add(kind, key, problem)
            # Its batch is accounted for by this (reported) manifest.
            walk.referenced.update(ref["key"] for ref in doc["objects"])
            if not self.read_unverified:
                return
        else:
            walk.summary.key_ids.add(doc["key_id"])
        claimed = doc["sequence"]
        if doc["replica_id"] != walk.replica:
            report.add("inserted", key, f"holds a manifest of replica {doc['replica_id']!r}")
            return
        if claimed != seq:
            report.add("reordered", key, f"holds manifest sequence {claimed}, not {seq}")
            if problem is None:
                self._remember(walk, claimed, data, doc)
            walk.referenced.update(ref["key"] for ref in doc["objects"])  # signed, just moved
            return
        linked = self._link(walk, key, doc) and problem is None
        if problem is None:
            self._remember(walk, claimed, data, doc)
            walk.last_valid = doc
        batch_ok = await self.batches.check(
            walk.replica, walk.summary, walk.referenced, key, doc, batch
        )
        if doc["kind"] == "heartbeat":
            walk.summary.heartbeats += 1

        if self.on_batch is not None and doc["objects"]:
            events = batch_ok[1]
            await self.on_batch(BatchEvents(walk.replica, key, seq, events, linked and batch_ok[0]))

    def _remember(self, walk: _Walk, claimed: int, data: bytes, doc: dict[str, Any]) -> None:
        walk.links[claimed] = (manifest.digest(data), doc["signature"])
        while len(walk.links) > WINDOW:
            walk.links.popitem(last=False)

    def _link(self, walk: _Walk, key: str, doc: dict[str, Any]) -> bool:
        """Check `previous`; True if it links (or cannot be checked)."""
        previous, claimed = doc["previous"], doc["sequence"]
        if previous is None:
            if claimed != 1:
                self.report.add("inserted", key, "starts a new chain (previous is null)")
                return False
            return True
        known = walk.links.get(claimed - 1)
        if known is None:
            return True  # the predecessor is missing or bad: reported there
        expected_key = self.layout.manifest_key(walk.replica, claimed - 1)
        if (
            previous.get("sha256") != known[0]
            or previous.get("signature") != known[1]
            or previous.get("sequence") != claimed - 1
            or previous.get("key") != expected_key
        ):
            self.report.add(
                "modified",
                expected_key,
                f"does not match the link in {key} (replaced, or {key} was inserted)",
            )
            return False
        if walk.last_valid is not None and doc["signed_at"] < walk.last_valid["signed_at"]:
            self.report.add("reordered", key, "signed before its predecessor", error=False)
        return True

    # ---- after the walk ----------------------------------------------------------

    def _unreferenced(self, walk: _Walk, batch_keys: list[str], first: int, last: int) -> None:
        for name in batch_keys:
            seq = sequence_of(name, BATCH_SUFFIX)
            if name in walk.referenced or (seq is not None and seq < first):
                continue
            if seq in walk.missing:
                self.report.add("deleted", name, "orphaned: its manifest is missing")
                continue
            if seq == last + 1:
                self.report.add(
                    "inserted", name, "batch without a manifest yet (in flight?)", error=False
                )
            else:
                self.report.add("inserted", name, "batch not listed by any manifest")

    def _freshness(self, walk: _Walk, last_key: str) -> None:
        doc = walk.last_valid
        summary = walk.summary
        if doc is None:
            self.report.add("stale_tail", last_key, "no valid manifest in this chain")
            return
        signed = canonical.parse_time(doc["signed_at"])
        age = (self.now - signed).total_seconds()
        summary.last_signed_at = doc["signed_at"]
        summary.last_age_seconds = age
        summary.final = bool(doc["final"])
        if age <= self.max_age:
            return
        last = self.layout.manifest_key(walk.replica, doc["sequence"])
        if doc["final"] and not self.require_live:
            self.report.add(
                "stopped", last, f"replica stopped cleanly at {doc['signed_at']}", error=False
            )
            return
        self.report.add(
            "stale_tail",
            last,
            f"newest valid manifest was signed at {doc['signed_at']}, {age:.0f}s ago "
            f"(limit {self.max_age:.0f}s): later manifests are missing (truncated) "
            "or the replica stopped shipping",
        )
