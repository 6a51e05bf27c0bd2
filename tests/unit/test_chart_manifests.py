"""Every manifest the chart renders, checked against the Kubernetes API schemas.

For the default values (as `helm lint` renders them), the minimal installable
values and each `ci/*-values.yaml`, every object is validated strictly
(tests/k8sschema.py: unknown fields refused) for the oldest Kubernetes
version the chart supports and the newest the schemas cover. The CI values
together render every template, so nothing escapes the check; and a
template with a misspelt field or a wrong type fails it (the hostile tests
at the end break real templates on purpose).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import k8sschema
from tests.helmchart import (
    CHART,
    CI_VALUES,
    MINIMAL,
    TEMPLATES,
    _yaml,
    render,
    template_files,
    values,
)

KUBE_VERSIONS = k8sschema.kube_versions(_yaml(CHART / "Chart.yaml")["kubeVersion"])

PRODUCTION = values(_yaml(CHART / "ci" / "production-values.yaml"))

CASES: dict[str, tuple[dict[str, Any], bool]] = {
    "defaults-lint": (values(), True),
    "minimal": (values(MINIMAL), False),
    **{p.name: (values(_yaml(p)), False) for p in CI_VALUES},
    # What the CI values leave off: the HPA, TLS in the gateway, minAvailable.
    "production+autoscaling+tls": (
        values(
            PRODUCTION,
            {
                "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
                "secrets": {"tls": {"existingSecret": "s3gate-tls"}},
                "podDisruptionBudget": {"minAvailable": 2},
                "preStopSleepSeconds": 0,
            },
        ),
        False,
    ),
}


def test_versions_span_the_supported_range() -> None:
    assert KUBE_VERSIONS[0] == "1.27"  # Chart.yaml: kubeVersion >=1.27.0-0
    assert len(KUBE_VERSIONS) == 2


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_manifest_is_valid(case: str, version: str) -> None:
    vals, lint = CASES[case]
    rendered = render(vals, lint=lint)
    count = 0
    for docs in rendered.values():
        for doc in docs:
            k8sschema.validate(doc, version)
            count += 1
    assert count >= 7, rendered.keys()  # configs, services, account, PDB, StatefulSet, test pod


def test_the_ci_values_render_every_template() -> None:
    used = {
        name for vals, lint in CASES.values() for name, docs in render(vals, lint).items() if docs
    }
    manifests = {
        p.relative_to(TEMPLATES).as_posix()
        for p in template_files()
        if p.suffix == ".yaml" and not p.name.startswith("_")
    }
    assert manifests - used == set(), "templates no case renders, so nothing validates them"


# ---------------------------------------------------------------------------
# Hostile: break a real template, the check must refuse what it renders
# ---------------------------------------------------------------------------

BROKEN = [
    # (template, text in it, replacement, what the refusal names)
    ("statefulset.yaml", "volumeMounts:", "volumeMount:", "volumeMount"),
    ("statefulset.yaml", "podManagementPolicy: Parallel", "podManagementPolicy: 2", "2"),
    (
        "statefulset.yaml",
        "replicas: {{ .Values.replicaCount }}",
        "replicas: {{ .Values.replicaCount | quote }}",
        "replicas",
    ),
    ("service.yaml", "targetPort: s3", "targetport: s3", "targetport"),
    ("configmap.yaml", "data:", "datas:", "datas"),
    ("networkpolicy.yaml", "policyTypes:", "policyType:", "policyType"),
    ("networkpolicy.yaml", "protocol: TCP", "protocl: TCP", "protocl"),
    ("job-views-rebuild.yaml", "backoffLimit:", "backofLimit:", "backofLimit"),
    (
        "job-views-rebuild.yaml",
        "restartPolicy: OnFailure",
        "restartPolicy: [OnFailure]",
        "not of type",
    ),
    ("pdb.yaml", "selector:", "selectors:", "selectors"),
    ("ingress.yaml", "pathType:", "pathtype:", "'pathType' is a required property"),
    ("serviceaccount.yaml", "automountServiceAccountToken:", "automountToken:", "automountToken"),
    ("servicemonitor.yaml", "scrapeTimeout:", "scrapeTimout:", "scrapeTimout"),
    ("servicemonitor.yaml", "endpoints:", "endpoint:", "endpoint"),
    ("prometheusrule.yaml", "expr: |", "expression: |", "expression"),
    ("prometheusrule.yaml", "for: 15m", "for: 15 minutes", "15 minutes"),
    # The OpenAPI schemas carry no enums (the API server checks those): a
    # wrong type is what they catch.
    ("tests/test-request.yaml", "restartPolicy: Never", "restartPolicy: [Never]", "not of type"),
    ("tests/test-request.yaml", "command:", "cmd:", "cmd"),
]


@pytest.mark.parametrize(
    ("template", "old", "new", "named"), BROKEN, ids=[f"{b[0]}:{b[2]}" for b in BROKEN]
)
def test_a_broken_template_is_refused(template: str, old: str, new: str, named: str) -> None:
    text = (TEMPLATES / template).read_text()
    assert old in text, f"{template} no longer contains {old!r}: update the table"
    broken = text.replace(old, new, 1)
    docs = render(PRODUCTION, sources={template: broken})[template]
    with pytest.raises(k8sschema.ManifestError, match=named):
        for doc in docs:
            for version in KUBE_VERSIONS:
                k8sschema.validate(doc, version)


def test_the_unbroken_templates_pass_the_same_check() -> None:
    # The control for the table above: the same values, the real templates.
    for docs in render(PRODUCTION).values():
        for doc in docs:
            for version in KUBE_VERSIONS:
                k8sschema.validate(doc, version)


def test_an_unknown_kind_is_refused_not_skipped() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(k8sschema.ManifestError, match="Widget"):
        k8sschema.validate(doc, KUBE_VERSIONS[0])
    misspelt = {"apiVersion": "apps/v1", "kind": "StatefulSett", "metadata": {"name": "s"}}
    with pytest.raises(k8sschema.ManifestError, match="StatefulSett"):
        k8sschema.validate(misspelt, KUBE_VERSIONS[0])
