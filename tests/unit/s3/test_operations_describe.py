"""`operations.describe`: what a refused request was trying to do, for its
access-log line — best effort, and never an exception of its own."""

from __future__ import annotations

import pytest

from s3gate.s3.operations import Operation, describe

CASES: list[tuple[str, str, bytes, dict[str, str], dict[str, str], Operation | None]] = [
    (
        "GET",
        "gw",
        b"/b/k.jsonl",
        {"torrent": ""},
        {},
        Operation("GetObject?torrent", "b", "k.jsonl"),
    ),
    ("PUT", "gw", b"/b/k", {"torrent": ""}, {}, Operation("PutObject?torrent", "b", "k")),
    ("GET", "gw", b"/b", {"lifecycle": ""}, {}, Operation("ListObjects?lifecycle", "b")),
    (
        "PUT",
        "gw",
        b"/b/k",
        {"partNumber": "1", "uploadId": "u"},
        {"x-amz-copy-source": "a/b"},
        Operation("UploadPartCopy", "b", "k"),
    ),
    ("PATCH", "gw", b"/b/k", {}, {}, Operation("Unknown", "b", "k")),
    ("POST", "gw", b"/", {"x": "1"}, {}, Operation("Unknown")),
    ("GET", "gw", b"/", {}, {}, Operation("ListBuckets")),
    ("GET", "gw", b"/b/%ff", {}, {}, None),  # not UTF-8: nothing to tell
    ("GET", "gw", b"/b/k", {"X-Amz-Signature": "s"}, {}, Operation("GetObject", "b", "k")),
]


@pytest.mark.parametrize(("method", "host", "path", "query", "headers", "expected"), CASES)
def test_describe(
    method: str,
    host: str,
    path: bytes,
    query: dict[str, str],
    headers: dict[str, str],
    expected: Operation | None,
) -> None:
    assert describe(method, host, path, query, headers) == expected


def test_an_overlong_key_is_cut() -> None:
    found = describe("GET", "gw", b"/b/" + b"k" * 5000, {}, {})
    assert found is not None and found.key is not None
    assert len(found.key.encode()) <= 1024 + len("…".encode())


def test_client_chosen_sub_resources_are_bounded() -> None:
    query = {f"{'x' * 100}{i}": "" for i in range(10)}
    found = describe("GET", "gw", b"/b/k", query, {})
    assert found is not None and len(found.name) < 200 and found.name.endswith(",…")
