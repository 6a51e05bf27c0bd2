"""The chart's NetworkPolicy and `helm test` pod, as rendered.

The schemas (test_chart_manifests.py) say the objects are well formed; these
tests say they do what deployment.md and the chart README promise: the
policy selects the gateway pods and only them, lets in the configured peers
and the test pod on the S3 port, lets out DNS, the store and the issuers;
the test pod is a hook that reaches the Service and is not itself behind it.
tests/e2e/test_chart_helm_test.py runs the test pod's script for real.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helmchart import CHART, MINIMAL, _yaml, objects, values

PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "agents"}}}
ON = values(MINIMAL, {"networkPolicy": {"enabled": True, "ingressFrom": [PEER]}})


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _pod_labels(rendered: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = rendered["StatefulSet/s3gate"]["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def test_the_network_policy_is_opt_in() -> None:
    assert not [k for k in objects(values(MINIMAL)) if k.startswith("NetworkPolicy/")]


def test_it_selects_the_gateway_pods_only() -> None:
    rendered = objects(ON)
    policy = rendered["NetworkPolicy/s3gate"]["spec"]
    selector = policy["podSelector"]["matchLabels"]
    assert _matches(selector, _pod_labels(rendered))
    test_pod = rendered["Pod/s3gate-test-request"]["metadata"]["labels"]
    assert not _matches(selector, test_pod)
    assert policy["policyTypes"] == ["Ingress", "Egress"]


def test_ingress_is_the_s3_port_from_the_peers_and_the_test_pod() -> None:
    rendered = objects(ON)
    (rule,) = rendered["NetworkPolicy/s3gate"]["spec"]["ingress"]
    container = rendered["StatefulSet/s3gate"]["spec"]["template"]["spec"]["containers"][0]
    assert rule["ports"] == [{"port": container["ports"][0]["name"], "protocol": "TCP"}]
    test_peer, *peers = rule["from"]
    assert peers == [PEER]
    test_pod = rendered["Pod/s3gate-test-request"]["metadata"]["labels"]
    assert _matches(test_peer["podSelector"]["matchLabels"], test_pod)
    assert "namespaceSelector" not in test_peer  # this namespace only


def test_no_peers_means_only_the_test_pod() -> None:
    rendered = objects(values(MINIMAL, {"networkPolicy": {"enabled": True}}))
    (rule,) = rendered["NetworkPolicy/s3gate"]["spec"]["ingress"]
    assert len(rule["from"]) == 1 and "podSelector" in rule["from"][0]


def test_egress_is_dns_the_store_and_the_issuers() -> None:
    rules = objects(ON)["NetworkPolicy/s3gate"]["spec"]["egress"]
    dns, store, issuers = rules
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert store == {"ports": [{"port": 443, "protocol": "TCP"}]}  # any address, HTTPS
    assert issuers == {"ports": [{"port": 443, "protocol": "TCP"}]}


def test_minio_values_narrow_the_store_and_drop_the_issuers() -> None:
    minio = values(_yaml(CHART / "ci" / "minio-values.yaml"))
    rules = objects(minio)["NetworkPolicy/s3gate"]["spec"]["egress"]
    assert len(rules) == 2  # DNS and the store: the issuer's keys are a file
    store = rules[1]
    assert store["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert store["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "minio"}}}
    ]
    extra = {"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}], "ports": [{"port": 3128}]}
    more = values(minio, {"networkPolicy": {"egress": {"extra": [extra]}}})
    assert objects(more)["NetworkPolicy/s3gate"]["spec"]["egress"][-1] == extra


# ---------------------------------------------------------------------------
# The `helm test` pod
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True])
def test_the_test_pod_is_a_hook_that_calls_the_service(tls: bool) -> None:
    extra = {"secrets": {"tls": {"existingSecret": "t"}}} if tls else {}
    rendered = objects(values(MINIMAL, extra))
    pod = rendered["Pod/s3gate-test-request"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    sts_container = rendered["StatefulSet/s3gate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == sts_container["image"]  # no other image to pull
    assert container["securityContext"] == sts_container["securityContext"]
    env = {e["name"]: e["value"] for e in container["env"]}
    service = rendered["Service/s3gate"]
    port = service["spec"]["ports"][0]["port"]
    scheme = "https" if tls else "http"
    assert env["S3GATE_URL"] == f"{scheme}://{service['metadata']['name']}:{port}"
    # The Service does not route to the test pod.
    assert not _matches(service["spec"]["selector"], pod["metadata"]["labels"])


def test_the_test_pod_can_be_left_out() -> None:
    assert "Pod/s3gate-test-request" not in objects(values(MINIMAL, {"tests": {"enabled": False}}))
