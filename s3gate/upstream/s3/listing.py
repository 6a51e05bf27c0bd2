"""S3 calls that list a bucket: ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

from dataclasses import replace

from s3gate import errors
from s3gate.s3.model import ListPage, VersionsPage
from s3gate.upstream.s3 import versions as s3versions
from s3gate.upstream.s3 import xml as s3xml
from s3gate.upstream.s3.calls import Calls

# The largest code point: `P + MAX_CHAR` sorts after every key under the
# common prefix P that a real store holds (see `start_after`).
MAX_CHAR = "\U0010ffff"


def start_after(
    prefix: str, delimiter: str | None, after: str | None
) -> tuple[str | None, str | None]:
    """(start-after to send, common prefix to skip).

    S3 applies start-after to keys before rolling them up, so resuming after a
    common prefix P with start-after=P would list P's keys again and return P
    once more. Every key under P sorts before P + U+10FFFF (the largest code
    point; UTF-8 byte order is code point order), so that is sent instead. The
    only keys that could sort after it continue P with U+10FFFF itself, a
    noncharacter; should a store hold one, P would be echoed, and the parser
    drops an echoed P."""
    if after is None or not delimiter or not after.startswith(prefix):
        return after, None
    cut = after.find(delimiter, len(prefix))
    if cut < 0:
        return after, None
    rolled = after[: cut + len(delimiter)]
    return rolled + MAX_CHAR, rolled


class ListingCalls(Calls):
    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        after: str | None = None,
    ) -> ListPage:
        after, skip = start_after(prefix, delimiter, after)
        query: list[tuple[str, str | None]] = [
            ("list-type", "2"),
            ("encoding-type", "url"),
            ("max-keys", str(max_keys)),
            ("prefix", prefix),
        ]
        if delimiter:
            query.append(("delimiter", delimiter))
        if after:
            query.append(("start-after", after))
        resp = await self._http.send("GET", bucket, query=query)
        return s3xml.parse_list_objects_v2(await self._http.xml(resp, errors.NoSuchBucket), skip)

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
    ) -> VersionsPage:
        # Resuming after a rolled-up common prefix: as for list_objects.
        key_marker, skip = start_after(prefix, delimiter, key_marker)
        query: list[tuple[str, str | None]] = [
            ("versions", None),
            ("encoding-type", "url"),
            ("max-keys", str(max_keys)),
            ("prefix", prefix),
        ]
        if delimiter:
            query.append(("delimiter", delimiter))
        if key_marker:
            query.append(("key-marker", key_marker))
            if version_id_marker and skip is None:
                query.append(("version-id-marker", version_id_marker))
        resp = await self._http.send("GET", bucket, query=query)
        page = s3versions.parse_list_versions(await self._http.xml(resp, errors.NoSuchBucket))
        if skip is not None and skip in page.common_prefixes:
            page = replace(page, common_prefixes=[p for p in page.common_prefixes if p != skip])
        return page
