"""The Helm chart in charts/s3gate, checked without a helm binary.

`helm lint` and `helm template` belong in CI wherever helm is installed; this
file checks what Python can: Chart.yaml and values.yaml, balanced template
blocks, and — through the renderer in tests/helmchart.py — that the rendered
manifests are YAML of the expected shape and that the rendered s3gate.yaml is
a valid configuration for the real settings model (a misspelt key fails here,
not in a pod). test_chart_schema.py checks values.schema.json,
test_chart_manifests.py the manifests against the Kubernetes API schemas,
test_chart_monitoring.py the alert rules, test_chart_network.py the NetworkPolicy
and the `helm test` pod.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3gate import config
from s3gate.audit import keys as audit_keys
from s3gate.identity.roles import RoleBook
from s3gate.policy.loader import load_bundle
from tests.helmchart import (
    ACTION,
    CHART,
    CI_VALUES,
    MINIMAL,
    ROOT,
    SchemaError,
    TemplateError,
    _parse,
    _yaml,
    objects,
    render,
    template_files,
    template_id,
    values,
)

# ---------------------------------------------------------------------------
# Chart.yaml, values.yaml, template syntax
# ---------------------------------------------------------------------------


def test_chart_yaml() -> None:
    chart = _yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "s3gate"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    assert version and chart["appVersion"] == version.group(1) == "0.1.0"


def test_values_yaml_has_the_documented_keys() -> None:
    vals = _yaml(CHART / "values.yaml")
    for key in (
        "replicaCount",
        "image",
        "serviceAccount",
        "config",
        "policies",
        "secrets",
        "audit",
        "service",
        "ingress",
        "trustedProxies",
        "persistence",
        "resources",
        "podSecurityContext",
        "securityContext",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "podDisruptionBudget",
        "autoscaling",
    ):
        assert key in vals, key
    assert set(vals["secrets"]) == {
        "upstream",
        "sessionKeys",
        "tokenKeys",
        "auditSigningKeys",
        "staticKeys",
        "tls",
    }
    assert vals["service"]["type"] == "ClusterIP" and vals["service"]["port"] == 9000
    assert vals["autoscaling"]["enabled"] is False
    assert vals["securityContext"]["readOnlyRootFilesystem"] is True
    assert vals["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert vals["podSecurityContext"]["runAsUser"] == 10001
    assert vals["podSecurityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert vals["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{i}")


@pytest.mark.parametrize("path", [CHART / "values.yaml", *CI_VALUES], ids=lambda p: p.name)
def test_no_secret_values_in_values_files(path: Path) -> None:
    for where, value in _walk(_yaml(path)):
        if isinstance(value, dict):
            assert "value" not in value or "name" in value, f"inline secret at {where}"
        if isinstance(value, str):
            assert "PRIVATE KEY" not in value, where
            assert not re.fullmatch(r"[A-Za-z0-9+/]{43}=", value), f"a key at {where}?"


BLOCK = re.compile(r"^(if|range|with|define|block)\b")


@pytest.mark.parametrize("path", template_files(), ids=template_id)
def test_template_tags_are_balanced(path: Path) -> None:
    text = path.read_text()
    assert text.count("{{") == text.count("}}"), "unbalanced {{ }}"
    stack: list[str] = []
    for m in ACTION.finditer(text):
        inner = m.group(2).strip()
        line = text.count("\n", 0, m.start()) + 1
        if inner.startswith("/*"):
            assert inner.endswith("*/"), f"line {line}: comment"
            continue
        assert "{{" not in inner, f"line {line}: nested {{{{"
        opener = BLOCK.match(inner)
        if opener:
            stack.append(f"{opener.group(1)} (line {line})")
        elif inner == "end":
            assert stack, f"line {line}: end without a block"
            stack.pop()
        elif inner.startswith("else"):
            assert stack and not stack[-1].startswith("define"), f"line {line}: stray else"
    assert not stack, f"unclosed: {stack}"
    # every define at the top level, and only in the helpers file
    if path.name != "_helpers.tpl":
        assert "define " not in text


@pytest.mark.parametrize("path", template_files(), ids=template_id)
def test_templates_parse(path: Path) -> None:
    _parse(path.read_text(), path.name)


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def test_default_values_render_in_lint_mode_and_name_what_is_missing() -> None:
    # `helm lint` renders `required` as empty; an install stops and says why.
    assert "statefulset.yaml" in render(values(), lint=True)
    with pytest.raises(
        TemplateError, match=re.escape("policies.files or policies.existingConfigMap")
    ):
        render(values())
    with pytest.raises(TemplateError, match=re.escape("auditSigningKeys.existingSecret")):
        render(values({"policies": MINIMAL["policies"], "replicaCount": 1}))


def test_more_than_one_replica_requires_shared_keys() -> None:
    with pytest.raises(TemplateError, match=re.escape("sessionKeys.existingSecret is required")):
        render(values(MINIMAL, {"replicaCount": 2}))
    with pytest.raises(TemplateError, match=re.escape("sessionKeys.existingSecret is required")):
        render(values(MINIMAL, {"autoscaling": {"enabled": True}}))
    keys = {
        "sessionKeys": {"existingSecret": "s", "keys": [{"id": "k1", "secretKey": "k1"}]},
        "tokenKeys": {"existingSecret": "t"},
    }
    with pytest.raises(TemplateError, match=re.escape("sessionKeys.active")):
        render(values(MINIMAL, {"replicaCount": 2, "secrets": keys}))
    keys["sessionKeys"]["active"] = "k1"
    assert render(values(MINIMAL, {"replicaCount": 2, "secrets": keys}))


def test_chart_owned_settings_cannot_be_overridden() -> None:
    data_dir = values(MINIMAL, {"config": {"data_dir": "/data"}})
    with pytest.raises(SchemaError, match="data_dir"):  # helm stops here
        render(data_dir)
    # and the template says so too (helm template --skip-schema-validation)
    with pytest.raises(TemplateError, match=re.escape("config.data_dir")):
        render(data_dir, schema=False)
    with pytest.raises(TemplateError, match=re.escape("config.policy.dir")):
        render(values(MINIMAL, {"config": {"policy": {"dir": "/p"}}}))


@pytest.mark.parametrize("path", CI_VALUES, ids=lambda p: p.name)
def test_ci_values_render(path: Path) -> None:
    rendered = objects(values(_yaml(path)))
    assert "StatefulSet/s3gate" in rendered
    assert "Service/s3gate" in rendered and "Service/s3gate-headless" in rendered
    assert "ConfigMap/s3gate-config" in rendered
    assert "PodDisruptionBudget/s3gate" in rendered


def _statefulset(vals: dict[str, Any]) -> dict[str, Any]:
    return objects(vals)["StatefulSet/s3gate"]


def _container(sts: dict[str, Any]) -> dict[str, Any]:
    (container,) = [
        c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "s3gate"
    ]
    return container


@pytest.mark.parametrize("path", CI_VALUES, ids=lambda p: p.name)
def test_statefulset_shape(path: Path) -> None:
    vals = values(_yaml(path))
    sts = _statefulset(vals)
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "s3gate-headless"
    assert spec["replicas"] == vals["replicaCount"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    # immutable: no label that changes with the chart version
    assert set(claim["metadata"]["labels"]) == set(spec["selector"]["matchLabels"])
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    container = _container(sts)
    env = {e["name"]: e for e in container["env"]}
    replica = env["S3GATE_AUDIT__REPLICA_ID"]
    prefix = vals["audit"]["replicaIdPrefix"]
    if prefix:
        assert replica["value"] == f"{prefix}$(POD_NAME)"
        assert list(env).index("POD_NAME") < list(env).index("S3GATE_AUDIT__REPLICA_ID")
    else:
        assert replica["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # every mount has its volume; the data volume is the claim
    volumes = {v["name"] for v in pod["volumes"]} | {"data"}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for mount in mounts.values():
        assert mount["name"] in volumes, mount
    assert mounts["/var/lib/s3gate"]["name"] == "data"
    assert mounts["/tmp"]["name"] == "tmp"
    assert "subPath" not in mounts["/etc/s3gate/policies"]  # updates must reach the pod
    assert mounts["/etc/s3gate/s3gate.yaml"]["subPath"] == "s3gate.yaml"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == 10001
    assert sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def _routes() -> set[str]:
    return set(re.findall(r'Route\("(/_s3gate/[^"]+)"', (ROOT / "s3gate" / "app.py").read_text()))


def test_probes_use_the_gateways_endpoints() -> None:
    container = _container(_statefulset(values(MINIMAL)))
    routes = _routes()
    probes = {
        k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes["livenessProbe"]["path"] == "/_s3gate/healthz"
    assert probes["readinessProbe"]["path"] == "/_s3gate/readyz"
    for name, probe in probes.items():
        assert probe["path"] in routes, name
        assert probe["port"] == "s3" and probe["scheme"] == "HTTP"
    (port,) = container["ports"]
    assert port["name"] == "s3" and port["containerPort"] == 9000
    tls = values(MINIMAL, {"secrets": {"tls": {"existingSecret": "tls"}}})
    assert _container(_statefulset(tls))["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


def test_service_and_ingress_point_at_the_container_port() -> None:
    rendered = objects(values(MINIMAL, {"ingress": {"enabled": True}}))
    service = rendered["Service/s3gate"]["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "s3", "port": 9000, "targetPort": "s3", "protocol": "TCP"}]
    rule = rendered["Ingress/s3gate"]["spec"]["rules"][0]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "s3gate", "port": {"number": 9000}}
    assert "HorizontalPodAutoscaler/s3gate" not in rendered
    hpa = objects(
        values(
            MINIMAL,
            {
                "autoscaling": {"enabled": True},
                "secrets": {
                    "sessionKeys": {
                        "existingSecret": "s",
                        "keys": [{"id": "k1", "secretKey": "k1"}],
                        "active": "k1",
                    },
                    "tokenKeys": {"existingSecret": "t"},
                },
            },
        )
    )
    assert hpa["HorizontalPodAutoscaler/s3gate"]["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert "replicas" not in hpa["StatefulSet/s3gate"]["spec"]


# The example bundle's `s3gate dev` allow-all policy and its tests: never deployed.
DEV_ONLY = frozenset({"access/dev-admin.cedar", "tests/dev-admin.yaml"})


def _policy_files() -> dict[str, str]:
    """policies/ as a deployment ships it: everything but the dev-only files."""
    src = ROOT / "policies"
    files = {
        p.relative_to(src).as_posix(): p.read_text() for p in sorted(src.rglob("*")) if p.is_file()
    }
    assert set(files) >= DEV_ONLY  # still there to leave out
    return {path: text for path, text in files.items() if path not in DEV_ONLY}


@pytest.mark.parametrize("path", ["../x.cedar", "access/../../x", "./a", "a b", "/abs"])
def test_a_policy_path_outside_the_folder_is_refused(path: str) -> None:
    bad = values(MINIMAL, {"policies": {"files": {path: "x"}}})
    with pytest.raises(SchemaError, match=re.escape("policies.files")):
        render(bad)
    with pytest.raises(TemplateError, match="is not a relative path"):
        render(bad, schema=False)


def test_the_dev_admin_policy_is_refused_unless_allowed() -> None:
    dev = {"access/dev-admin.cedar": (ROOT / "policies/access/dev-admin.cedar").read_text()}
    with pytest.raises(TemplateError, match="allow-all"):
        render(values(MINIMAL, {"policies": {"files": dev}}))
    items = {
        "existingConfigMap": "p",
        "items": [{"key": "access__dev-admin.cedar", "path": "access/dev-admin.cedar"}],
    }
    with pytest.raises(TemplateError, match="allow-all"):
        render(values(MINIMAL, {"policies": items}))
    allowed = render(values(MINIMAL, {"policies": {"files": dev, "allowDevAdmin": True}}))
    assert allowed["configmap-policies.yaml"][0]["data"]["access__dev-admin.cedar"]


def _allow_all(cedar: str) -> list[str]:
    """The `permit`s of a policy file whose action and resource are
    unconstrained and that have no condition: everything, to someone."""
    found = []
    for policy in re.sub(r"//[^\n]*", "", cedar).split(";"):
        scope = re.search(r"permit\s*\((.*?)\)\s*(when|unless)?", policy, re.S)
        everything = scope and [p.strip() for p in scope.group(1).split(",")][1:] == [
            "action",
            "resource",
        ]
        if scope and everything and not scope.group(2):
            found.append(policy.strip())
    return found


def test_production_values_mount_no_allow_all_policy() -> None:
    """ci/production-values.yaml mounts real policies only: every item is a
    file of policies/ and none is the dev key's allow-all, nor any other
    unconditional `permit` on every action and resource."""
    assert _allow_all((ROOT / "policies/access/dev-admin.cedar").read_text())  # the check bites
    prod = _yaml(CHART / "ci" / "production-values.yaml")["policies"]
    paths = [item["path"] for item in prod["items"]]
    assert "access/dev-admin.cedar" not in paths
    shipped = _policy_files()
    for path in paths:
        assert path in shipped, path
        if path.endswith(".cedar"):
            assert _allow_all(shipped[path]) == [], path


def test_policy_files_round_trip_through_the_configmap() -> None:
    files = _policy_files()
    vals = values(MINIMAL, {"policies": {"files": files}})
    rendered = objects(vals)
    data = rendered["ConfigMap/s3gate-policies"]["data"]
    for key in data:
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", key), key  # a valid ConfigMap key
    volume = next(
        v
        for v in _statefulset(vals)["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "policies"
    )
    assert volume["configMap"]["name"] == "s3gate-policies"
    mounted = {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}
    assert mounted == files  # byte for byte: the bundle hash matches `s3gate policy check`


# ---------------------------------------------------------------------------
# The rendered s3gate.yaml against the real settings model
# ---------------------------------------------------------------------------


def _s3gate_yaml(vals: dict[str, Any]) -> str:
    return objects(vals)["ConfigMap/s3gate-config"]["data"]["s3gate.yaml"]


def _secret_fixtures(root: Path, vals: dict[str, Any]) -> None:
    """What the Secrets and ConfigMaps would put at the chart's mount paths,
    under `root` instead of `/`."""
    etc = root / "etc" / "s3gate"
    secrets = vals["secrets"]
    for entry in secrets["sessionKeys"]["keys"]:
        path = etc / "session-keys" / entry["secretKey"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    if secrets["tokenKeys"]["existingSecret"]:
        path = etc / "token-keys" / secrets["tokenKeys"]["secretKey"]
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(os.urandom(32)).decode()
        path.write_text(json.dumps({"active": "k1", "keys": {"k1": key}}))
    for name in secrets["auditSigningKeys"]["files"]:
        generated = audit_keys.generate(root / "generated")
        path = etc / "audit-keys" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generated.private_pem())
    for entry in secrets["staticKeys"]["keys"]:
        path = etc / "static-keys" / entry["secretKey"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a-static-secret-of-some-length\n")
    policies = etc / "policies"
    for rel, content in _policy_files().items():
        (policies / rel).parent.mkdir(parents=True, exist_ok=True)
        (policies / rel).write_text(content)


def _load_rendered(
    vals: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> config.Settings:
    text = _s3gate_yaml(vals)
    # Hand-substitute the mount points with a scratch root.
    text = text.replace("/etc/s3gate/", f"{tmp_path}/etc/s3gate/")
    text = text.replace("/var/lib/s3gate", f"{tmp_path}/var/lib/s3gate")
    _secret_fixtures(tmp_path, vals)
    path = tmp_path / "s3gate.yaml"
    path.write_text(text)
    # The environment the StatefulSet gives the container.
    container = _container(_statefulset(vals))
    for var in container["env"]:
        if var["name"].startswith("UPSTREAM_"):
            monkeypatch.setenv(var["name"], f"from-secret-{var['name'].lower()}")
    replica = container["env"][
        [e["name"] for e in container["env"]].index("S3GATE_AUDIT__REPLICA_ID")
    ]
    pod = "s3gate-0"
    replica_id = replica.get("value", "$(POD_NAME)").replace("$(POD_NAME)", pod)
    monkeypatch.setenv("S3GATE_AUDIT__REPLICA_ID", replica_id)
    return config.load(path)


def test_default_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vals = values(MINIMAL)
    settings = _load_rendered(vals, tmp_path, monkeypatch)
    assert settings.server.host == "0.0.0.0"  # noqa: S104
    assert settings.server.port == 9000
    assert settings.upstream.type == "s3"
    assert settings.policy.dir == tmp_path / "etc/s3gate/policies"
    assert settings.identity.roles_file == settings.policy.dir / "roles.yaml"
    assert settings.data_dir == tmp_path / "var/lib/s3gate"
    assert settings.audit.directory(settings.data_dir) == settings.data_dir / "audit"
    # The environment variable and the file merge: both survive.
    assert settings.audit.replica_id == "s3gate-0"
    assert settings.audit.signing_keys == (tmp_path / "etc/s3gate/audit-keys/a.private.pem",)
    assert settings.policy.audit_bucket == settings.audit.bucket == "audit"
    assert not settings.identity.sts_enabled


@pytest.mark.parametrize("path", CI_VALUES, ids=lambda p: p.name)
def test_ci_config_is_valid(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vals = values(_yaml(path))
    settings = _load_rendered(vals, tmp_path, monkeypatch)
    secrets = vals["secrets"]
    assert settings.identity.sts_enabled
    assert settings.identity.active_session_key == secrets["sessionKeys"]["active"]
    assert [k.id for k in settings.identity.session_keys] == [
        k["id"] for k in secrets["sessionKeys"]["keys"]
    ]
    assert [p.name for p in settings.audit.signing_keys] == secrets["auditSigningKeys"]["files"]
    assert settings.policy.audit_bucket == settings.audit.bucket
    assert settings.audit.replica_id == f"{vals['audit']['replicaIdPrefix']}s3gate-0"
    if secrets["upstream"]["existingSecret"]:
        assert settings.upstream.access_key_id is not None
        assert settings.upstream.access_key_id.resolve() == "from-secret-upstream_access_key_id"
    else:
        assert settings.upstream.access_key_id is None  # AWS default chain (IRSA)
    if secrets["tls"]["existingSecret"]:
        assert settings.server.tls is not None
        assert settings.server.tls.cert_file.name == "tls.crt"
    if secrets["tokenKeys"]["existingSecret"]:
        assert settings.masking.token_keys is not None
    assert len(settings.static_keys) == len(secrets["staticKeys"]["keys"])


def test_the_policy_bundle_loads_from_the_mounted_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _load_rendered(values(MINIMAL), tmp_path, monkeypatch)
    bundle = load_bundle(settings.policy)
    assert bundle.policies
    assert RoleBook.load(settings.identity.roles_file, known_issuers=["kubernetes"])


# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------


def test_dockerfile_matches_the_chart() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.rsplit("\nFROM ", 1)[1]
    assert final.startswith("python:3.11-slim")
    assert "USER 10001:10001" in final
    assert "EXPOSE 9000" in final
    assert 'ENTRYPOINT ["s3gate"]' in final
    cmd = re.search(r"^CMD (\[.*\])$", final, re.M)
    assert cmd
    container = _container(_statefulset(values(MINIMAL)))
    assert json.loads(cmd.group(1)) == container["args"]
    assert container["args"][-1] == "/etc/s3gate/s3gate.yaml"
    install = re.search(r"pip install (.+?)(?:\\|$)", text, re.M)
    assert install
    assert shlex.split(install.group(1)) == ["."]  # no [dev] extra
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for needed in ("pyproject.toml", "README.md", "s3gate"):
        assert needed not in ignored
    for excluded in (".venv", "data", "tests"):
        assert excluded in ignored
