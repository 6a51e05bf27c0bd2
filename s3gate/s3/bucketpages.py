"""ListBuckets pagination (`max-buckets`, `continuation-token`, `prefix`,
`bucket-region`) over the bucket list the caller may see.

The gateway filters the store's bucket list by policy, so it pages that
filtered list itself rather than the store's (a store page of hidden buckets
would be an empty page with a token). Names are in byte order, as S3 lists
them. The continuation token is the last name returned, sealed
(`s3.listtokens`, under the scope `ListBuckets`, which no bucket can be
named: bucket names are lower case): the caller saw that name, but a plain
name would let it start a page anywhere, and an opaque token keeps the
gateway free to change what it holds. Every bucket is in the gateway's
region (`server.region`), so `bucket-region` naming another lists none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from s3gate import errors
from s3gate.s3.model import BucketInfo

MAX_BUCKETS = 10_000  # S3's largest page (and its default)
SEAL_SCOPE = "ListBuckets"
# ListBuckets' own parameters, beside the listing ones (prefix, continuation-token).
PARAMS = frozenset({"max-buckets", "bucket-region"})
_ALL = PARAMS | {"prefix", "continuation-token"}


@dataclass(frozen=True)
class BucketQuery:
    prefix: str = ""
    region: str | None = None
    max_buckets: int = MAX_BUCKETS
    # The request named a ListBuckets parameter: S3 then answers each
    # bucket's BucketRegion and the Prefix.
    paged: bool = False


@dataclass(frozen=True)
class BucketPage:
    buckets: tuple[BucketInfo, ...]
    last: str | None = None  # the last name returned, when more follow


def parse(query: Mapping[str, str]) -> BucketQuery:
    """The page asked for; a `max-buckets` that is not 1..10000 in ASCII
    digits is InvalidArgument (not clamped: a caller asking for 0 or a
    million is told)."""
    raw = query.get("max-buckets")
    limit = MAX_BUCKETS
    if raw is not None:
        digits = raw.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 5):
            raise errors.InvalidArgument("max-buckets must be an integer between 1 and 10000")
        limit = int(digits)
        if not 1 <= limit <= MAX_BUCKETS:
            raise errors.InvalidArgument("max-buckets must be an integer between 1 and 10000")
    return BucketQuery(
        prefix=query.get("prefix", ""),
        region=query.get("bucket-region") or None,
        max_buckets=limit,
        paged=any(p in query for p in _ALL),
    )


def page(
    visible: Iterable[BucketInfo], q: BucketQuery, region: str, after: str | None
) -> BucketPage:
    """The page of `visible` (already filtered by policy) after the name
    `after` (None: from the start)."""
    if q.region is not None and q.region != region:
        return BucketPage(())
    names = sorted(
        (b for b in visible if b.name.startswith(q.prefix)), key=lambda b: b.name.encode()
    )
    if after is not None:
        names = [b for b in names if b.name.encode() > after.encode()]
    shown = tuple(names[: q.max_buckets])
    more = len(names) > q.max_buckets
    return BucketPage(shown, shown[-1].name if more and shown else None)
