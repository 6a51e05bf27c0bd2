"""charts/s3gate/values.schema.json: `helm install` refuses bad values.

Helm validates the merged values against the chart's schema (JSON Schema
draft-07) before it renders anything. These tests check the schema with the
same draft: the default values, the values of each `ci/*-values.yaml` and
the test cases all pass; a table of bad values is refused; every value in
values.yaml is named by the schema, and every object the schema describes
field by field refuses fields it does not know. The chart README documents
every value (checked here too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from s3gate import config
from tests.helmchart import CHART, CI_VALUES, MINIMAL, _yaml, values

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
DEFAULTS = _yaml(CHART / "values.yaml")


def _errors(vals: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in VALIDATOR.iter_errors(vals)
    ]


def test_the_schema_is_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert "$defs" not in json.dumps(SCHEMA)  # draft-07 spells it `definitions`


@pytest.mark.parametrize(
    "name",
    ["values.yaml", "minimal", *(p.name for p in CI_VALUES)],
)
def test_shipped_values_are_valid(name: str) -> None:
    if name == "values.yaml":
        vals = values()
    elif name == "minimal":
        vals = values(MINIMAL)
    else:
        vals = values(_yaml(CHART / "ci" / name))
    assert _errors(vals) == []


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        schema = SCHEMA["definitions"][name]
    return schema


def _described(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    schema = _resolve(schema)
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _described(sub, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from _described(schema["items"], f"{path}[]")


# Kubernetes objects the chart passes through (EnvVar, Volume, Container):
# the schema checks their name, the API server the rest.
PASSED_THROUGH = {".extraEnv[]", ".extraVolumes[]", ".extraContainers[]"}


def test_every_described_object_refuses_unknown_fields() -> None:
    loose = {
        where
        for where, schema in _described(SCHEMA)
        if "properties" in schema and schema.get("additionalProperties") is not False
    }
    assert loose == PASSED_THROUGH
    for where, schema in _described(SCHEMA):
        if where in PASSED_THROUGH:
            assert schema["additionalProperties"] is True  # said, not forgotten


def _value_paths(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Each key of values.yaml, down to where the schema stops describing fields
    (a free-form Kubernetes object, a map of names)."""
    schema = _resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in value.items():
            assert key in schema["properties"], f"{path}.{key} is not in values.schema.json"
            yield f"{path}.{key}"
            yield from _value_paths(sub, schema["properties"][key], f"{path}.{key}")


def test_every_value_is_in_the_schema() -> None:
    paths = list(_value_paths(DEFAULTS, SCHEMA))
    assert ".metrics.prometheusRule.latencySeconds" in paths
    # and nothing in the schema's top level that values.yaml lacks (but Helm's own)
    assert set(SCHEMA["properties"]) - set(DEFAULTS) == {"global"}


def test_config_sections_are_the_settings_model() -> None:
    # `config` is s3gate.yaml: its sections are the real settings, less the
    # one the chart owns (data_dir, the per-replica volume).
    sections = set(SCHEMA["properties"]["config"]["properties"])
    assert sections == set(config.Settings.model_fields) - {"data_dir"}


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("a string count", {"replicaCount": "3"}, "replicaCount"),
    ("a negative count", {"replicaCount": -1}, "replicaCount"),
    ("an unknown top-level value", {"replicas": 2}, "replicas"),
    ("a misspelt nested value", {"serviceAccount": {"craete": False}}, "craete"),
    ("a pull policy", {"image": {"pullPolicy": "Sometimes"}}, "Sometimes"),
    ("an empty repository", {"image": {"repository": ""}}, "image.repository"),
    ("a port out of range", {"service": {"port": 70000}}, "service.port"),
    ("a service type", {"service": {"type": "Headless"}}, "Headless"),
    (
        "a path type in lower case",
        {"ingress": {"hosts": [{"host": "h", "paths": [{"path": "/", "pathType": "prefix"}]}]}},
        "prefix",
    ),
    ("a size with a space", {"persistence": {"size": "20 GB"}}, "persistence.size"),
    ("a retention policy", {"persistence": {"retention": {"whenScaled": "Keep"}}}, "Keep"),
    ("a data_dir the chart owns", {"config": {"data_dir": "/data"}}, "data_dir"),
    ("a misspelt config section", {"config": {"upsteam": {}}}, "upsteam"),
    ("a log level", {"config": {"log_level": "verbose"}}, "verbose"),
    (
        "a session key without its Secret key",
        {"secrets": {"sessionKeys": {"keys": [{"id": "k1"}]}}},
        "secretKey",
    ),
    ("a session key id", {"secrets": {"sessionKeys": {"active": "k 1"}}}, "active"),
    (
        "a lower-case access key id",
        {
            "secrets": {
                "staticKeys": {
                    "keys": [
                        {
                            "accessKeyId": "akiaexampleservice01",
                            "secretKey": "k",
                            "principal": {"name": "n"},
                        }
                    ]
                }
            }
        },
        "accessKeyId",
    ),
    ("a Secret name", {"secrets": {"tls": {"existingSecret": "My_Secret"}}}, "existingSecret"),
    ("a policy path leaving the folder", {"policies": {"files": {"../x.cedar": ""}}}, "x.cedar"),
    (
        "a '.' segment",
        {"policies": {"items": [{"key": "a", "path": "access/./a.cedar"}]}},
        "a.cedar",
    ),
    ("a policy item without its path", {"policies": {"items": [{"key": "a"}]}}, "path"),
    ("a replica id prefix", {"audit": {"replicaIdPrefix": "eu 1/"}}, "replicaIdPrefix"),
    ("a probe off the gateway", {"livenessProbe": {"httpGet": {"path": "/"}}}, "path"),
    ("a probe with no httpGet", {"readinessProbe": {"exec": {"command": ["true"]}}}, "exec"),
    (
        "a percentage as a string",
        {"autoscaling": {"targetCPUUtilizationPercentage": "70"}},
        "targetCPU",
    ),
    ("a scrape interval", {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}}, "interval"),
    ("a ratio above 1", {"metrics": {"prometheusRule": {"serverErrorRatio": 5}}}, "serverError"),
    (
        "a bundle hash",
        {"metrics": {"prometheusRule": {"expectedBundleHash": "abc"}}},
        "expectedBundleHash",
    ),
    (
        "a quote in the operations regex",
        {"metrics": {"prometheusRule": {"latencyOperations": 'GetObject"}'}}},
        "latencyOperations",
    ),
    ("a rule without expr", {"metrics": {"prometheusRule": {"additionalRules": [{}]}}}, "expr"),
    ("a misspelt peer", {"networkPolicy": {"ingressFrom": [{"podSelecter": {}}]}}, "podSelecter"),
    ("an empty peer", {"networkPolicy": {"ingressFrom": [{}]}}, "ingressFrom"),
    (
        "a protocol",
        {"networkPolicy": {"egress": {"store": {"ports": [{"port": 443, "protocol": "HTTP"}]}}}},
        "HTTP",
    ),
    ("a test bucket", {"tests": {"bucket": "Not_A_Bucket"}}, "bucket"),
    ("an env var without a name", {"extraEnv": [{"value": "x"}]}, "name"),
    ("a mount without a path", {"extraVolumeMounts": [{"name": "x"}]}, "mountPath"),
    ("an annotation that is not a string", {"podAnnotations": {"a": 1}}, "podAnnotations"),
]


@pytest.mark.parametrize(("case", "bad", "named"), BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_refused(case: str, bad: dict[str, Any], named: str) -> None:
    errors = _errors(values(MINIMAL, bad))
    assert errors, f"{case}: accepted"
    assert any(named in e for e in errors), errors


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("a PDB as a percentage", {"podDisruptionBudget": {"minAvailable": "50%"}}),
    ("CPU as a number", {"resources": {"limits": {"cpu": 2, "memory": "2Gi"}}}),
    ("scale to zero", {"replicaCount": 0}),
    ("an ipBlock peer", {"networkPolicy": {"ingressFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}}),
    ("a named port", {"networkPolicy": {"egress": {"store": {"ports": [{"port": "https"}]}}}}),
    ("any settings inside a section", {"config": {"server": {"anything": True}}}),
    ("an empty bundle hash", {"metrics": {"prometheusRule": {"expectedBundleHash": ""}}}),
]


@pytest.mark.parametrize(("case", "good"), GOOD, ids=[g[0] for g in GOOD])
def test_good_values_are_accepted(case: str, good: dict[str, Any]) -> None:
    assert _errors(values(MINIMAL, good)) == [], case


# ---------------------------------------------------------------------------
# The chart README documents every value
# ---------------------------------------------------------------------------

README = (CHART / "README.md").read_text()


# Values whose fields are Kubernetes' own (a probe, resources): one row each.
DOCUMENTED_WHOLE = {
    "resources",
    "tests.resources",
    "viewsRebuild.resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
}


def test_the_readme_documents_every_value() -> None:
    table = README.split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", table, re.M))
    paths = [p.lstrip(".") for p in _value_paths(DEFAULTS, SCHEMA)]
    leaves = [p for p in paths if not any(q.startswith(f"{p}.") for q in paths)]
    missing = [
        p
        for p in leaves
        if p not in documented and not any(p.startswith(f"{w}.") for w in DOCUMENTED_WHOLE)
    ]
    assert missing == [], "values missing from the README's table"
    known = {where.lstrip(".") for where, _ in _described(SCHEMA)}
    assert sorted(documented - known) == [], "README rows for values that do not exist"
