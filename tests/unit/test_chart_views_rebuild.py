"""The chart's views-rebuild Job, as rendered.

After a policy or token-key change every masked view is missing (a new view
family), and each object's first masked HEAD waits for its view. The Job
builds the views of the configured prefixes ahead of the readers. These tests
check what would go wrong in a cluster: a Job the Service routes S3 traffic
to, a Job that cannot load the gateway's configuration (a missing mount or
variable), a Job that never runs again after a policy change, or one that
re-runs on every unrelated upgrade.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helmchart import CHART, MINIMAL, SchemaError, _yaml, check_values, objects, values

PRODUCTION = _yaml(CHART / "ci" / "production-values.yaml")


def _jobs(vals: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in objects(vals).items() if k.startswith("Job/")}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_off_by_default() -> None:
    assert not _jobs(values(MINIMAL))
    off = values(PRODUCTION, {"viewsRebuild": {"enabled": False}})
    assert not _jobs(off)
    assert "NetworkPolicy/s3gate-views-rebuild" not in objects(off)


def test_one_job_per_target_with_its_arguments() -> None:
    jobs = _jobs(values(PRODUCTION))
    assert len(jobs) == 2
    args = sorted(j["spec"]["template"]["spec"]["containers"][0]["args"] for j in jobs.values())
    assert args[0][:4] == ["views", "rebuild", "--config", "/etc/s3gate/s3gate.yaml"]
    flat = [" ".join(a) for a in args]
    assert any(
        "--bucket traces --prefix agents/ " in f and "--profile analyst-view" in f for f in flat
    )
    assert any("--prefix support-bot/" in f and "--profile" not in f for f in flat)
    for job in jobs.values():
        assert len(job["metadata"]["name"]) <= 63
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_the_job_pods_get_no_s3_traffic() -> None:
    rendered = objects(values(PRODUCTION))
    pod_labels = [
        j["spec"]["template"]["metadata"]["labels"]
        for k, j in rendered.items()
        if k.startswith("Job/")
    ]
    selectors = [
        rendered["Service/s3gate"]["spec"]["selector"],
        rendered["Service/s3gate-headless"]["spec"]["selector"],
        rendered["PodDisruptionBudget/s3gate"]["spec"]["selector"]["matchLabels"],
        rendered["NetworkPolicy/s3gate"]["spec"]["podSelector"]["matchLabels"],
    ]
    for labels in pod_labels:
        for selector in selectors:
            assert not _matches(selector, labels), (selector, labels)
    own = rendered["NetworkPolicy/s3gate-views-rebuild"]["spec"]
    assert all(_matches(own["podSelector"]["matchLabels"], labels) for labels in pod_labels)
    gateway_pod = rendered["StatefulSet/s3gate"]["spec"]["template"]["metadata"]["labels"]
    assert not _matches(own["podSelector"]["matchLabels"], gateway_pod)
    # Nothing in; out: DNS and the store, not the OIDC issuers.
    assert "ingress" not in own and own["policyTypes"] == ["Ingress", "Egress"]
    gateway_egress = rendered["NetworkPolicy/s3gate"]["spec"]["egress"]
    egress = values(PRODUCTION)["networkPolicy"]["egress"]
    assert egress["issuers"]["enabled"] and not egress["extra"]
    # The gateway's rules are DNS, the store, then the issuers.
    assert gateway_egress[:-1] == own["egress"] and len(own["egress"]) == 2


def test_the_job_loads_the_same_configuration_as_the_gateway() -> None:
    rendered = objects(values(PRODUCTION))
    gateway = rendered["StatefulSet/s3gate"]["spec"]["template"]["spec"]
    (container,) = gateway["containers"]
    for job in (j for k, j in rendered.items() if k.startswith("Job/")):
        spec = job["spec"]["template"]["spec"]
        (jc,) = spec["containers"]
        assert jc["image"] == container["image"]
        assert jc["volumeMounts"] == container["volumeMounts"]
        env = [
            e for e in container["env"] if e["name"] not in ("POD_NAME", "S3GATE_AUDIT__REPLICA_ID")
        ]
        assert jc["env"] == env
        assert [v for v in spec["volumes"] if v["name"] != "data"] == [
            v for v in gateway["volumes"] if v["name"] != "data"
        ]
        assert {"name": "data", "emptyDir": {}} in spec["volumes"]
        assert jc["securityContext"] == container["securityContext"]
        assert spec["automountServiceAccountToken"] is False


def _names(*overrides: dict[str, Any]) -> set[str]:
    return {j["metadata"]["name"] for j in _jobs(values(PRODUCTION, *overrides)).values()}


@pytest.mark.parametrize(
    ("change", "runs_again"),
    [
        ({"replicaCount": 5}, False),
        ({"resources": {"requests": {"cpu": "2"}}}, False),
        ({"policies": {"files": {"access/extra.cedar": "// more\n"}}}, True),
        ({"config": {"views": {"materialise": ["analyst-view", "support-view"]}}}, True),
        ({"secrets": {"tokenKeys": {"secretKey": "other.json"}}}, True),
        ({"viewsRebuild": {"revision": "2026-12-08"}}, True),
    ],
)
def test_a_new_job_runs_when_what_views_depend_on_changes(
    change: dict[str, Any], runs_again: bool
) -> None:
    before, after = _names(), _names(change)
    assert len(after) == 2
    assert (before != after) is runs_again
    if runs_again:
        assert not before & after


@pytest.mark.parametrize(
    "bad",
    [
        {"viewsRebuild": {"targets": [{"prefix": "a/"}]}},
        {"viewsRebuild": {"targets": [{"bucket": "Bad_Bucket"}]}},
        {"viewsRebuild": {"targets": [{"bucket": "traces", "profile": ["x"]}]}},
        {"viewsRebuild": {"targets": [{"bucket": "traces", "profiles": ["a b"]}]}},
        {"viewsRebuild": {"workers": 0}},
        {"viewsRebuild": {"schedule": "@daily"}},
    ],
)
def test_the_schema_refuses_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        check_values(values(PRODUCTION, bad))
