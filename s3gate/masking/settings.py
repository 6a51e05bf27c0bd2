"""Settings of the shared read views (the `views:` section of the YAML file)."""

from __future__ import annotations

from pydantic import Field

from s3gate.configbase import Section


class ViewSettings(Section):
    # Read views built at write time, right after a masked write stores its
    # bytes: each entry is a profile name, or names joined by "+" for readers
    # whose decision names several. Entries the active bundle lacks are
    # skipped. Each costs one more masking pass over the stored bytes and one
    # more object in the store (docs/masking.md, "Read views").
    materialise: tuple[str, ...] = ("analyst-view",)
    # Views a listing may build itself for keys that have none yet (objects
    # written around the gateway), at once; the rest wait their turn.
    listing_builds: int = Field(default=4, ge=1, le=64)
    # Upstream LIST calls a listing may spend reading the view index for one
    # page before looking the remaining keys up one by one.
    listing_index_pages: int = Field(default=3, ge=1, le=100)
    # Index entries (key, stored ETag -> view size and ETag) a replica keeps
    # in memory, so that repeat listings skip the index LIST; about 300 bytes
    # each. Entries never go stale (a view is immutable per stored ETag).
    index_cache_entries: int = Field(default=100_000, ge=0)
