"""ListBuckets pagination (s3.bucketpages): parameters parsed with limits,
pages of the policy-filtered list in byte order, and the rendered document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defusedxml import ElementTree

from s3gate import errors
from s3gate.s3 import bucketpages, listxml
from s3gate.s3.bucketpages import BucketQuery
from s3gate.s3.model import BucketInfo

WHEN = datetime(2026, 1, 2, tzinfo=UTC)
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
BUCKETS = [BucketInfo(n, WHEN) for n in ("logs-b", "a-one", "logs-a", "z-last", "logs-c")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, BucketQuery()),
        ({"x-id": "ListBuckets"}, BucketQuery()),
        ({"max-buckets": "1"}, BucketQuery(max_buckets=1, paged=True)),
        ({"max-buckets": "10000"}, BucketQuery(max_buckets=10000, paged=True)),
        ({"prefix": "logs-"}, BucketQuery(prefix="logs-", paged=True)),
        ({"bucket-region": "eu-west-1"}, BucketQuery(region="eu-west-1", paged=True)),
        ({"continuation-token": ""}, BucketQuery(paged=True)),
    ],
)
def test_parse(query: dict[str, str], expected: BucketQuery) -> None:
    assert bucketpages.parse(query) == expected


@pytest.mark.parametrize(
    "value", ["0", "10001", "-1", "", "one", "1.5", "\u0663", "9" * 400, "1e3"]
)
def test_bad_max_buckets_is_invalid_argument(value: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        bucketpages.parse({"max-buckets": value})


PAGES = [
    # (query, after) → (names, last)
    (BucketQuery(), None, (["a-one", "logs-a", "logs-b", "logs-c", "z-last"], None)),
    (BucketQuery(max_buckets=2), None, (["a-one", "logs-a"], "logs-a")),
    (BucketQuery(max_buckets=2), "logs-a", (["logs-b", "logs-c"], "logs-c")),
    (BucketQuery(max_buckets=2), "logs-c", (["z-last"], None)),
    (BucketQuery(max_buckets=5), None, (["a-one", "logs-a", "logs-b", "logs-c", "z-last"], None)),
    (BucketQuery(max_buckets=3, prefix="logs-"), None, (["logs-a", "logs-b", "logs-c"], None)),
    (BucketQuery(max_buckets=1, prefix="logs-"), "logs-a", (["logs-b"], "logs-b")),
    # A name that no longer exists (deleted since the token): resumes after it.
    (BucketQuery(max_buckets=1), "logs-aa", (["logs-b"], "logs-b")),
    (
        BucketQuery(region="us-east-1"),
        None,
        (["a-one", "logs-a", "logs-b", "logs-c", "z-last"], None),
    ),
    (BucketQuery(region="eu-west-1"), None, ([], None)),
    (BucketQuery(), "z-last", ([], None)),
]


@pytest.mark.parametrize(("query", "after", "expected"), PAGES)
def test_page(
    query: BucketQuery, after: str | None, expected: tuple[list[str], str | None]
) -> None:
    got = bucketpages.page(BUCKETS, query, "us-east-1", after)
    assert ([b.name for b in got.buckets], got.last) == expected


def test_document_with_and_without_the_paged_elements() -> None:
    plain = ElementTree.fromstring(listxml.list_buckets(BUCKETS[:1]))
    assert plain.find(f"{NS}Buckets/{NS}Bucket/{NS}BucketRegion") is None
    assert plain.find(f"{NS}ContinuationToken") is None
    assert plain.find(f"{NS}Prefix") is None
    paged = ElementTree.fromstring(
        listxml.list_buckets(BUCKETS[:1], region="us-east-1", token="s3g2-k.x&y", prefix="a<")
    )
    assert paged.findtext(f"{NS}Buckets/{NS}Bucket/{NS}BucketRegion") == "us-east-1"
    assert paged.findtext(f"{NS}ContinuationToken") == "s3g2-k.x&y"
    assert paged.findtext(f"{NS}Prefix") == "a<"
