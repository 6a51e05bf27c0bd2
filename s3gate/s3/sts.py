"""Telling STS from S3 on the shared endpoint (parsing only: STS itself is
handlers/sts.py and identity/sts.py).

STS is a form POST to the root, or a root GET with `Action` — never a
virtual-hosted bucket request (the Host names a bucket)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from s3gate.s3.operations import virtual_host_bucket

FORM_TYPE = "application/x-www-form-urlencoded"


def is_sts_request(
    method: str, path: str, query: Mapping[str, str], content_type: str | None
) -> bool:
    """Whether a path-style request to the root is STS rather than S3. Call it
    only when the Host does not name a bucket (`is_sts`)."""
    if path != "/":
        return False
    if method == "GET":
        return "Action" in query
    if method == "POST":
        return (content_type or "").split(";", 1)[0].strip().lower() == FORM_TYPE
    return False


def is_sts(
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    content_type: str | None,
    virtual_host_domains: Sequence[str],
) -> bool:
    """Whether a request is STS: path-style to the root, as `is_sts_request`."""
    if virtual_host_bucket(host, virtual_host_domains):
        return False
    return is_sts_request(method, path, query, content_type)
