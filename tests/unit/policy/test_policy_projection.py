"""What the policies can observe decides how decisions may be grouped."""

from __future__ import annotations

import json

import cedarpy
import pytest

from s3gate.policy.projection import Projection, analyse


def _analyse(text: str) -> Projection:
    return analyse(json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"].values())


def test_attribute_chains_and_has_tests_are_paths() -> None:
    p = _analyse(
        """permit (principal, action, resource is Object) when {
             resource.bucket == "t" && resource has dir1
             && resource.dir1 == principal.getTag("team") && context.now.hour > 8
             && context has range && context.source_ip.isInRange(ip("10.0.0.0/8"))
           };"""
    )
    assert p.resource_paths == frozenset({("bucket",), ("dir1",)})
    assert p.context_paths == frozenset({("now", "hour"), ("range",), ("source_ip",)})


@pytest.mark.parametrize(
    "text",
    [
        'permit (principal, action, resource in Bucket::"b");',
        'permit (principal, action, resource == Bucket::"b");',
        'permit (principal, action, resource is Object in Bucket::"b");',
        'permit (principal, action, resource) when { resource in Bucket::"b" };',
        'permit (principal, action, resource) when { resource != Bucket::"b" };',
        "permit (principal, action, resource) when { resource is Prefix };",
    ],
)
def test_bucket_and_kind_tests_keep_grouping(text: str) -> None:
    assert _analyse(text).resource_paths == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        'permit (principal, action, resource == Object::"t/k");',
        'permit (principal, action, resource in Prefix::"t/a/");',
        'permit (principal, action, resource) when { resource == Object::"t/k" };',
        "permit (principal, action, resource) when { [resource].contains(resource) };",
        'permit (principal, action, resource) when { resource is Object in Prefix::"t/" };',
    ],
)
def test_anything_that_sees_the_resource_id_disables_grouping(text: str) -> None:
    assert _analyse(text).resource_paths is None


def test_a_bare_context_disables_context_grouping() -> None:
    p = _analyse('permit (principal, action, resource) when { context == {operation: "x"} };')
    assert p.context_paths is None and p.resource_paths == frozenset()


def test_keys() -> None:
    p = Projection(frozenset({("dir1",)}), frozenset({("now", "hour")}))
    a = p.resource_key("Object", "t", "t/a/1", {"bucket": "t", "dir1": "a", "key": "a/1"})
    b = p.resource_key("Object", "t", "t/a/2", {"bucket": "t", "dir1": "a", "key": "a/2"})
    c = p.resource_key("Object", "t", "t/k", {"bucket": "t", "key": "k"})
    d = p.resource_key("Prefix", "t", "t/a/1", {"bucket": "t", "dir1": "a", "key": "a/1"})
    assert a == b and a != c and a != d
    assert p.context_key({"now": {"hour": 1, "epoch": 5}}) == p.context_key(
        {"now": {"hour": 1, "epoch": 6}}
    )
    assert p.context_key({"now": {"hour": 1}}) != p.context_key({"now": {"hour": 2}})
    whole = Projection(None, None)
    assert whole.resource_key("Object", "t", "t/a/1", {}) != whole.resource_key(
        "Object", "t", "t/a/2", {}
    )
