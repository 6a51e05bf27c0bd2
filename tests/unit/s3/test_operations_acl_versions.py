"""Routing of ACL, bucket versioning, ListObjectVersions and versionId (s3.operations)."""

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
    ("PUT", b"/bkt", {"versioning": ""}, "PutBucketVersioning"),
    ("GET", b"/bkt", {"versioning": ""}, "GetBucketVersioning"),
    ("GET", b"/bkt/k", {"versionId": "abc"}, "GetObject"),
    ("HEAD", b"/bkt/k", {"versionId": "abc"}, "HeadObject"),
    ("DELETE", b"/bkt/k", {"versionId": "abc"}, "DeleteObject"),
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
        # versionId only where a version is read or deleted.
        ("PUT", b"/bkt/k", {"versionId": "abc"}),
        ("GET", b"/bkt/k", {"versionId": "abc", "uploadId": "u"}),
        # version-id-marker belongs to ListObjectVersions only.
        ("GET", b"/bkt", {"version-id-marker": "x"}),
        ("GET", b"/bkt/k", {"acl": "", "uploadId": "u"}),
        # Tags of an older version are not implemented (a bucket's are:
        # test_operations.py), nor a bucket's tags with a version.
        ("GET", b"/bkt/k", {"tagging": "", "versionId": "abc"}),
        ("GET", b"/bkt", {"tagging": "", "versionId": "abc"}),
    ],
)
def test_still_not_implemented(method: str, path: bytes, query: dict[str, str]) -> None:
    with pytest.raises(errors.NotImplementedError_):
        resolve(method, "gw", path, query, {})
