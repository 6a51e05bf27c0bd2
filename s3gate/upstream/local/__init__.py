"""The embedded upstream: a persistent local directory that behaves like S3.

Module map: `upstream` (`LocalUpstream`, the `Upstream` protocol over the
others), `rules` (S3 semantics: names, ranges, conditions), `blobs` (immutable
blob files), `index` (SQLite rows: buckets, objects), `uploads` (multipart
rows and completion claims), `listing` (paged scans), `store` (index thread,
commit protocol, start-up lock and sweep), `multipart` (multipart uploads with
S3's validation rules), `versions` (no versions kept: every object is its
only version, `null`).
"""

from __future__ import annotations

from s3gate.upstream.local.upstream import LocalUpstream

__all__ = ["LocalUpstream"]
