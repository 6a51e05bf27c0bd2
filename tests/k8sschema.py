"""Kubernetes API schemas for the chart's manifests, offline.

Built-in kinds (StatefulSet, Service, NetworkPolicy, Pod, …) are checked with
the JSON schemas that `kubernetes-validate` ships as package data, in their
strict form (`additionalProperties: false`), so a misspelt field fails. The
Prometheus Operator kinds (ServiceMonitor, PrometheusRule) are custom
resources that no Kubernetes schema covers: their schema is derived from the
models of `cloudcoil.models.prometheus_operator` (generated from the
operator's CRDs), made strict the same way.

A kind neither source knows is an error, never a skip: every rendered
manifest is checked or the test fails.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate

# The custom resources the chart renders, by apiVersion and kind.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


class ManifestError(AssertionError):
    """A manifest the API server would refuse, or one no schema covers."""


def kube_versions(chart_kube_version: str) -> list[str]:
    """The oldest version the chart supports (Chart.yaml's kubeVersion) and
    the newest one the schemas cover."""
    m = re.fullmatch(r">=\s*(\d+\.\d+)(?:\.\d+)?(?:-0)?", chart_kube_version.strip())
    if not m:
        raise ValueError(f"kubeVersion {chart_kube_version!r}: expected '>=X.Y.Z-0'")
    newest = ".".join(kubernetes_validate.utils.latest_version().split(".")[:2])
    return sorted({m.group(1), newest}, key=lambda v: tuple(int(x) for x in v.split(".")))


def validate(manifest: dict[str, Any], kube_version: str) -> None:
    name = f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key in CUSTOM_KINDS:
        errors = sorted(
            _crd_validator(*key).iter_errors(manifest), key=lambda e: list(e.absolute_path)
        )
        if errors:
            where = ".".join(str(p) for p in errors[0].absolute_path)
            raise ManifestError(f"{name}: {where}: {errors[0].message}")
        return
    try:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise ManifestError(f"{name} (Kubernetes {kube_version}): {where}: {exc.message}") from exc
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ManifestError(f"{name}: {exc.message}") from exc


def _strict(schema: Any) -> Any:
    """Refuse unknown fields wherever the schema lists the known ones."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and pattern.startswith("^(?i)"):
            # Go's regexp takes a flag group anywhere; Python's only first.
            schema["pattern"] = "(?i)^" + pattern[len("^(?i)") :]
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


@functools.cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    # Imported here: the module is large (every Prometheus Operator kind) and
    # only the monitoring manifests need it.
    from cloudcoil.models.prometheus_operator import v1

    assert api_version == "monitoring.coreos.com/v1"
    model = getattr(v1, kind)
    schema = _strict(model.model_json_schema(by_alias=True))
    # The models type apiVersion and kind as any string: pin them.
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)
