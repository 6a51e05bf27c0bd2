"""DeleteObjects by version: the store's answer read back per entry
(upstream.s3.versions.parse_delete_versions)."""

from __future__ import annotations

import pytest

from s3gate.upstream.s3.versions import parse_delete_versions

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _result(inner: str) -> bytes:
    return f"<DeleteResult {NS}>{inner}</DeleteResult>".encode()


@pytest.mark.parametrize(
    ("body", "items", "expected"),
    [
        # An Error naming the version: that entry's.
        (
            "<Error><Key>k</Key><VersionId>v1</VersionId><Code>AccessDenied</Code>"
            "<Message>locked</Message></Error>",
            [("k", "v1")],
            [("k", "v1", "AccessDenied", "locked")],
        ),
        # An Error without the version (moto, Object Lock): still the store's
        # code for the version asked, not "did not report".
        (
            "<Error><Key>k</Key><Code>AccessDenied</Code><Message>locked</Message></Error>",
            [("k", "v1")],
            [("k", "v1", "AccessDenied", "locked")],
        ),
        # Deleted entries are found by key and version; a key's error does not
        # spill onto another key.
        (
            "<Deleted><Key>a</Key><VersionId>v2</VersionId></Deleted>"
            "<Error><Key>b</Key><Code>AccessDenied</Code><Message>m</Message></Error>",
            [("a", "v2"), ("b", "v3")],
            [("a", "v2", None, None), ("b", "v3", "AccessDenied", "m")],
        ),
        # An entry the store does not mention failed.
        (
            "<Error><Key>other</Key><Code>AccessDenied</Code><Message>m</Message></Error>",
            [("k", "v1")],
            [("k", "v1", "InternalError", "The upstream store did not report on this key")],
        ),
    ],
)
def test_outcomes_per_entry(
    body: str,
    items: list[tuple[str, str | None]],
    expected: list[tuple[str, str | None, str | None, str | None]],
) -> None:
    got = parse_delete_versions(_result(body), items)
    assert [(o.key, o.version_id, o.error_code, o.error_message) for o in got] == expected
