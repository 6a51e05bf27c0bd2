"""Batch objects as the verifier checks them: present, with the SHA-256 and
size their manifest signed, holding that many canonical events of the
replica, none of them seen before in this run.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from s3gate.audit import batch as batches
from s3gate.audit import canonical
from s3gate.audit.events import SCHEMA as EVENT_SCHEMA
from s3gate.audit.verify.reader import AuditReader
from s3gate.audit.verify.report import ReplicaSummary, Report

# Event ids remembered for duplicate detection (the most recent ones).
SEEN_IDS = 1_000_000


class BatchChecker:
    def __init__(self, reader: AuditReader, report: Report) -> None:
        self.reader = reader
        self.layout = reader.layout
        self.report = report
        self._seen_ids: OrderedDict[str, str] = OrderedDict()

    async def check(
        self,
        replica: str,
        summary: ReplicaSummary,
        referenced: set[str],
        key: str,
        doc: dict[str, Any],
        prefetched: bytes | None,
    ) -> tuple[bool, list[dict[str, Any]]]:
        """Check the objects manifest `key` lists; (all good, their events).
        `prefetched` is the object under the manifest's own batch name, if any."""
        ok, events = True, []
        total = 0
        for ref in doc["objects"]:
            name = ref["key"]
            referenced.add(name)
            if not name.startswith(self.layout.batches_prefix(replica)):
                self.report.add("inserted", key, f"lists an object outside its replica: {name}")
                ok = False
                continue
            expected_name = self.layout.batch_key(replica, doc["sequence"])
            data = prefetched if name == expected_name else await self.reader.get(name)
            if data is None:
                self.report.add("deleted", name, f"batch listed in {key} is missing")
                ok = False
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != ref["sha256"] or len(data) != ref["size"]:
                self.report.add(
                    "modified",
                    name,
                    f"sha256 {digest[:16]}…/{len(data)} bytes, but {key} says "
                    f"{ref['sha256'][:16]}…/{ref['size']} bytes",
                )
                ok = False
                continue
            summary.batches += 1
            found = self._events(replica, name, data, ref["events"])
            total += len(found)
            events += found
        if ok and total != doc["event_count"]:
            self.report.add("modified", key, f"event_count {doc['event_count']} != {total}")
            ok = False
        summary.events += total
        return ok, events

    def _events(self, replica: str, name: str, data: bytes, count: int) -> list[dict[str, Any]]:
        try:
            lines = batches.decode(data)
        except ValueError as exc:
            self.report.add("modified", name, f"signed but unreadable: {exc}")
            return []
        if len(lines) != count:
            self.report.add("modified", name, f"{len(lines)} events, manifest says {count}")
        events = []
        for line in lines:
            try:
                event = canonical.decode(line)
                if not isinstance(event, dict) or event.get("schema") != EVENT_SCHEMA:
                    raise ValueError("not an s3gate.audit/1 event")
                if not isinstance(event.get("id"), str) or not isinstance(event.get("time"), str):
                    raise ValueError("event without id or time")
            except ValueError as exc:
                self.report.add("modified", name, f"bad event line: {exc}")
                continue
            if event.get("replica_id") != replica:
                self.report.add("inserted", name, f"event {event.get('id')} of another replica")
            first = self._seen_ids.get(event["id"])
            if first is not None:
                self.report.add("duplicate", name, f"event {event['id']} also in {first}")
            self._seen_ids[event["id"]] = name
            if len(self._seen_ids) > SEEN_IDS:
                self._seen_ids.popitem(last=False)
            events.append(event)
        return events
