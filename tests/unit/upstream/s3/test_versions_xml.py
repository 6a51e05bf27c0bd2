"""The store's XML for object versions (upstream/s3/versions.py)."""

from __future__ import annotations

import pytest

from s3gate.s3.model import DeleteOutcome
from s3gate.upstream.s3 import versions

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _result(inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult {NS}>{inner}</DeleteResult>'.encode()
    )


@pytest.mark.parametrize(
    ("body", "items", "expected"),
    [
        (  # a version removed, echoed with its id
            "<Deleted><Key>k</Key><VersionId>v1</VersionId></Deleted>",
            [("k", "v1")],
            [DeleteOutcome("k", version_id="v1")],
        ),
        (  # a plain delete that added a marker
            "<Deleted><Key>k</Key><DeleteMarker>true</DeleteMarker>"
            "<DeleteMarkerVersionId>m1</DeleteMarkerVersionId></Deleted>",
            [("k", None)],
            [DeleteOutcome("k", delete_marker=True, delete_marker_version_id="m1")],
        ),
        (  # an error for a version, echoed with its id
            "<Error><Key>k</Key><VersionId>v1</VersionId><Code>AccessDenied</Code>"
            "<Message>Access Denied</Message></Error>",
            [("k", "v1")],
            [DeleteOutcome("k", "AccessDenied", "Access Denied", version_id="v1")],
        ),
        (  # an error by key alone (moto, a locked version): about the version asked
            "<Error><Key>k</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            [("k", "v1")],
            [DeleteOutcome("k", "AccessDenied", "Access Denied", version_id="v1")],
        ),
        (  # a key the store did not mention failed
            "<Deleted><Key>a</Key></Deleted>",
            [("a", None), ("b", "v2")],
            [
                DeleteOutcome("a"),
                DeleteOutcome(
                    "b", "InternalError", "The upstream store did not report on this key", "v2"
                ),
            ],
        ),
    ],
)
def test_delete_versions_outcomes(
    body: str, items: list[tuple[str, str | None]], expected: list[DeleteOutcome]
) -> None:
    assert versions.parse_delete_versions(_result(body), items) == expected


def test_version_listing_keeps_markers_and_markers_position() -> None:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult {NS}><Name>b</Name><EncodingType>url</EncodingType>
<IsTruncated>true</IsTruncated><NextKeyMarker>a%2Bb</NextKeyMarker>
<NextVersionIdMarker>v1</NextVersionIdMarker>
<DeleteMarker><Key>a%2Bb</Key><VersionId>m1</VersionId><IsLatest>true</IsLatest>
<LastModified>2026-01-01T00:00:02.000Z</LastModified></DeleteMarker>
<Version><Key>a%2Bb</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>
<LastModified>2026-01-01T00:00:01.000Z</LastModified><ETag>"e1"</ETag><Size>3</Size></Version>
<CommonPrefixes><Prefix>p%2F</Prefix></CommonPrefixes>
</ListVersionsResult>""".encode()
    page = versions.parse_list_versions(body)
    assert [(v.key, v.version_id, v.delete_marker, v.is_latest) for v in page.versions] == [
        ("a+b", "m1", True, True),
        ("a+b", "v1", False, False),
    ]
    assert page.versions[1].size == 3 and page.versions[1].etag == '"e1"'
    assert page.common_prefixes == ["p/"]
    assert (page.is_truncated, page.next_key_marker, page.next_version_id_marker) == (
        True,
        "a+b",
        "v1",
    )


@pytest.mark.parametrize(
    ("inner", "status"),
    [
        ("", None),
        ("<Status>Enabled</Status>", "Enabled"),
        ("<Status>Suspended</Status>", "Suspended"),
        ("<Status>Odd</Status>", None),
    ],
)
def test_versioning_state(inner: str, status: str | None) -> None:
    body = f"<VersioningConfiguration {NS}>{inner}</VersioningConfiguration>".encode()
    assert versions.parse_versioning(body) == status
