"""Routing of the ACL sub-resource and ListObjectVersions (s3.operations)."""

from __future__ import annotations

import pytest

from s3gate import errors
from s3gate.s3.operations import resolve

ROWS = [
    ("GET", b"/bkt", {"acl": ""}, "GetBucketAcl"),
    ("PUT", b"/bkt", {"acl": ""}, "PutBucketAcl"),
    ("GET", b"/bkt/k", {"acl": ""}, "GetObjectAcl"),
    ("PUT", b"/bkt/k", {"acl": ""}, "PutObjectAcl"),
    ("GET", b"/bkt", {"versions": ""}, "ListObjectVersions"),
    (
        "GET",
        b"/bkt",
        {"versions": "", "key-marker": "a", "version-id-marker": "null", "max-keys": "2"},
        "ListObjectVersions",
    ),
    ("PUT", b"/bkt", {}, "CreateBucket"),
    ("GET", b"/bkt/k", {}, "GetObject"),
    ("GET", b"/bkt/k", {"tagging": ""}, "GetObjectTagging"),
    ("PUT", b"/bkt/k", {"tagging": ""}, "PutObjectTagging"),
    ("DELETE", b"/bkt/k", {"tagging": ""}, "DeleteObjectTagging"),
]


@pytest.mark.parametrize(("method", "path", "query", "name"), ROWS)
def test_resolves(method: str, path: bytes, query: dict[str, str], name: str) -> None:
    assert resolve(method, "gw", path, query, {}).name == name


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        # Versioning stays unimplemented: the gateway never makes a bucket versioned.
        ("PUT", b"/bkt", {"versioning": ""}),
        ("GET", b"/bkt", {"versioning": ""}),
        ("GET", b"/bkt/k", {"versionId": "abc"}),
        # version-id-marker belongs to ListObjectVersions only.
        ("GET", b"/bkt", {"version-id-marker": "x"}),
        ("GET", b"/bkt/k", {"acl": "", "uploadId": "u"}),
    ],
)
def test_still_not_implemented(method: str, path: bytes, query: dict[str, str]) -> None:
    with pytest.raises(errors.NotImplementedError_):
        resolve(method, "gw", path, query, {})
