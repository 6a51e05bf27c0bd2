"""The Helm chart in charts/s3gate, checked without a helm binary.

`helm lint` and `helm template` belong in CI wherever helm is installed; this
file checks what Python can: Chart.yaml and values.yaml, balanced template
blocks, and — through a small renderer for the subset of Go templates and
Sprig functions the chart uses — that the rendered manifests are YAML of the
expected shape and that the rendered s3gate.yaml is a valid configuration for
the real settings model (a misspelt key fails here, not in a pod).

The renderer is deliberately strict: an unknown function, an unsupported
construct or a field of a missing value raises, so a template that grows past
the subset fails this test instead of passing unchecked.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3gate import config
from s3gate.audit import keys as audit_keys
from s3gate.identity.roles import RoleBook
from s3gate.policy.loader import load_bundle

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "s3gate"
TEMPLATES = CHART / "templates"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "s3gate"  # `helm install s3gate charts/s3gate`: fullname "s3gate"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# ---------------------------------------------------------------------------
# A renderer for the chart's subset of Go templates
# ---------------------------------------------------------------------------

ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<op>:=|=|\(|\)|\||,)
      | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
      | (?P<word>[$.]?[A-Za-z0-9_$.]+|\.)
    )""",
    re.VERBOSE,
)


class TemplateError(Exception):
    pass


class Missing:
    """A value that does not exist (Go's nil interface)."""


def _truth(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (dict, list)) and not value)


def _gostr(value: Any) -> str:
    if value is None:
        return ""  # Helm removes "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        raise TemplateError(f"printing a {type(value).__name__} directly: {value!r}")
    return str(value)


def _lex(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot parse {text[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _parse(text: str, name: str) -> list[Any]:
    """Text and actions into a tree: ("text", s) | ("action", tokens) |
    ("if", [(cond, body)…], else) | ("range"/"with", decl, tokens, body, else)."""
    pieces: list[Any] = []
    pos = 0
    for m in ACTION.finditer(text):
        pieces.append(["text", text[pos : m.start()]])
        inner = m.group(2).strip()
        pieces.append(["act", inner, bool(m.group(1)), bool(m.group(3))])
        pos = m.end()
    pieces.append(["text", text[pos:]])
    for i, piece in enumerate(pieces):  # whitespace trimming
        if piece[0] != "act":
            continue
        if piece[2] and i > 0:
            pieces[i - 1][1] = pieces[i - 1][1].rstrip()
        if piece[3] and i + 1 < len(pieces):
            pieces[i + 1][1] = pieces[i + 1][1].lstrip()
    stream = iter(pieces)
    defines: dict[str, list[Any]] = {}
    body, end = _block(stream, name, defines, top=True)
    assert end is None
    return [body, defines]


def _block(stream: Iterator[Any], name: str, defines: dict[str, list[Any]], top: bool = False):
    nodes: list[Any] = []
    for piece in stream:
        if piece[0] == "text":
            if piece[1]:
                nodes.append(("text", piece[1]))
            continue
        inner = piece[1]
        if inner.startswith("/*"):
            if not inner.endswith("*/"):
                raise TemplateError(f"{name}: unterminated comment")
            continue
        word = inner.split(None, 1)[0] if inner else ""
        rest = inner[len(word) :].strip()
        if word in ("end", "else"):
            if top:
                raise TemplateError(f"{name}: unexpected {{{{ {inner} }}}}")
            return nodes, inner
        if word == "if":
            branches, otherwise = [], None
            cond = rest
            while True:
                sub, end = _block(stream, name, defines)
                branches.append((_lex(cond), sub))
                if end is None:
                    raise TemplateError(f"{name}: unterminated if")
                if end == "end":
                    break
                if end.startswith("else if "):
                    cond = end[len("else if ") :]
                    continue
                if end == "else":
                    otherwise, end2 = _block(stream, name, defines)
                    if end2 != "end":
                        raise TemplateError(f"{name}: if/else not closed by end")
                    break
                raise TemplateError(f"{name}: bad {end!r}")
            nodes.append(("if", branches, otherwise))
        elif word in ("range", "with"):
            decl: list[str] = []
            m = re.match(r"^(\$\w+)(?:\s*,\s*(\$\w+))?\s*:=\s*(.*)$", rest, re.DOTALL)
            if m:
                decl = [v for v in m.group(1, 2) if v]
                rest = m.group(3)
            sub, end = _block(stream, name, defines)
            otherwise = None
            if end == "else":
                otherwise, end = _block(stream, name, defines)
            if end != "end":
                raise TemplateError(f"{name}: {word} not closed by end")
            nodes.append((word, decl, _lex(rest), sub, otherwise))
        elif word == "define":
            if not top:
                raise TemplateError(f"{name}: define inside a block")
            tname = json.loads(rest)
            sub, end = _block(stream, name, defines)
            if end != "end":
                raise TemplateError(f"{name}: define {tname} not closed by end")
            defines[tname] = sub
        elif word in ("template", "block", "break", "continue"):
            raise TemplateError(f"{name}: {word} is outside the supported subset")
        else:
            nodes.append(("action", _lex(inner)))
    if not top:
        raise TemplateError(f"{name}: missing end")
    return nodes, None


class Renderer:
    def __init__(self, values: dict[str, Any], lint: bool = False) -> None:
        chart = _yaml(CHART / "Chart.yaml")
        self.root = {
            "Values": values,
            "Chart": {"Name": chart["name"], "Version": chart["version"]}
            | {"AppVersion": chart["appVersion"]},
            "Release": {"Name": RELEASE, "Namespace": "default", "Service": "Helm"},
        }
        self.lint = lint
        self.defines: dict[str, list[Any]] = {}
        self.files: dict[str, list[Any]] = {}
        for path in sorted(TEMPLATES.iterdir()):
            body, defines = _parse(path.read_text(), path.name)
            self.defines.update(defines)
            self.files[path.name] = body

    # -- evaluation --------------------------------------------------------

    def render_file(self, name: str) -> str:
        return self._run(self.files[name], self.root, {"$": self.root})

    def include(self, name: str, dot: Any) -> str:
        if name not in self.defines:
            raise TemplateError(f"no template {name!r}")
        return self._run(self.defines[name], dot, {"$": self.root})

    def _run(self, nodes: list[Any], dot: Any, scope: dict[str, Any]) -> str:
        out: list[str] = []
        scope = dict(scope)
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                value = self._pipeline(node[1], dot, scope)
                if value is not _NOTHING:
                    out.append(_gostr(value))
            elif kind == "if":
                for cond, body in node[1]:
                    if _truth(self._pipeline(cond, dot, scope)):
                        out.append(self._run(body, dot, scope))
                        break
                else:
                    if node[2] is not None:
                        out.append(self._run(node[2], dot, scope))
            elif kind == "with":
                _, decl, tokens, body, otherwise = node
                value = self._pipeline(tokens, dot, scope)
                if _truth(value):
                    inner = dict(scope)
                    if decl:
                        inner[decl[0]] = value
                    out.append(self._run(body, value, inner))
                elif otherwise is not None:
                    out.append(self._run(otherwise, dot, scope))
            elif kind == "range":
                _, decl, tokens, body, otherwise = node
                value = self._pipeline(tokens, dot, scope)
                if isinstance(value, dict):
                    items = [(k, value[k]) for k in sorted(value)]
                elif isinstance(value, list):
                    items = list(enumerate(value))
                elif value is None:
                    items = []
                else:
                    raise TemplateError(f"range over {value!r}")
                for key, item in items:
                    inner = dict(scope)
                    if len(decl) == 2:
                        inner[decl[0]], inner[decl[1]] = key, item
                    elif decl:
                        inner[decl[0]] = item
                    out.append(self._run(body, item, inner))
                if not items and otherwise is not None:
                    out.append(self._run(otherwise, dot, scope))
        return "".join(out)

    def _pipeline(self, tokens: list[tuple[str, str]], dot: Any, scope: dict[str, Any]) -> Any:
        declare = None
        if len(tokens) > 2 and tokens[1] in (("op", ":="), ("op", "=")):
            declare, tokens = tokens[0][1], tokens[2:]
        commands: list[list[tuple[str, str]]] = [[]]
        depth = 0
        for tok in tokens:
            if tok == ("op", "(") or tok == ("op", ")"):
                depth += 1 if tok[1] == "(" else -1
            if tok == ("op", "|") and depth == 0:
                commands.append([])
            else:
                commands[-1].append(tok)
        value: Any = _NOTHING
        for i, command in enumerate(commands):
            value = self._command(command, dot, scope, value if i else _NOTHING)
        if declare is not None:
            scope[declare] = value
            return _NOTHING
        return value

    def _command(self, tokens: list[Any], dot: Any, scope: dict[str, Any], piped: Any) -> Any:
        if not tokens:
            raise TemplateError("empty command")
        operands: list[Any] = []
        i = 0
        while i < len(tokens):
            kind, text = tokens[i]
            if text == "(":
                depth, j = 1, i + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(tokens[j][1], 0) if tokens[j][0] == "op" else 0
                    j += 1
                operands.append(("value", self._pipeline(tokens[i + 1 : j - 1], dot, scope)))
                i = j
                continue
            operands.append((kind, text))
            i += 1
        head_kind, head = operands[0]
        if head in ("and", "or"):  # short-circuit (Go 1.18+), returning an operand
            value = None
            for operand in operands[1:]:
                value = self._operand(operand, dot, scope)
                if _truth(value) != (head == "and"):
                    break
            return value
        if head_kind == "word" and head[0] not in ".$" and head not in ("true", "false", "nil"):
            fn = FUNCTIONS.get(head)
            if fn is None:
                raise TemplateError(f"function {head!r} is outside the supported subset")
            args = [self._operand(o, dot, scope) for o in operands[1:]]
            if piped is not _NOTHING:
                args.append(piped)
            return fn(self, *args)
        if len(operands) != 1 or piped is not _NOTHING:
            raise TemplateError(f"cannot call {head!r}")
        return self._operand(operands[0], dot, scope)

    def _operand(self, operand: tuple[str, Any], dot: Any, scope: dict[str, Any]) -> Any:
        kind, text = operand
        if kind == "value":
            return text
        if kind == "str":
            return json.loads(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if text in ("true", "false"):
            return text == "true"
        if text == "nil":
            return None
        if text == ".":
            return dot
        if text.startswith("$"):
            name, _, path = text.partition(".")
            if name not in scope:
                raise TemplateError(f"undefined variable {name}")
            return _field(scope[name], path)
        if text.startswith("."):
            return _field(dot, text[1:])
        if FUNCTIONS.get(text) is not None:  # a niladic function as an argument: `default dict`
            return FUNCTIONS[text](self)
        raise TemplateError(f"unexpected {text!r}")


_NOTHING = Missing()


def _field(value: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        if value is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{part}")
        if not isinstance(value, dict):
            raise TemplateError(f"can't evaluate field {part} in {type(value).__name__}")
        value = value.get(part)
    return value


def _indent(n: int, text: str) -> str:
    pad = " " * n
    return pad + text.replace("\n", "\n" + pad)


def _to_yaml(_: Renderer, value: Any) -> str:
    if not isinstance(value, (dict, list)):
        return json.dumps(value) if isinstance(value, str) else _gostr(value) or "null"
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True, width=10**9)
    return text.removesuffix("\n")


def _merge_overwrite(_: Renderer, dst: dict[str, Any], *sources: dict[str, Any]) -> dict:
    for src in sources:
        for key, value in src.items():
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                _merge_overwrite(_, dst[key], value)
            else:
                dst[key] = value
    return dst


def _dig(_: Renderer, *args: Any) -> Any:
    *keys, default, mapping = args
    value = mapping
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def _printf(_: Renderer, fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        value = next(values)
        return json.dumps(_gostr(value), ensure_ascii=False) if verb == "q" else _gostr(value)

    return re.sub(r"%([svdq%])", one, fmt)


def _required(r: Renderer, message: str, value: Any) -> Any:
    if value is None or value == "":
        if r.lint:
            return ""
        raise TemplateError(f"execution error: {message}")
    return value


def _fail(_: Renderer, message: str) -> Any:
    raise TemplateError(f"execution error: {message}")


def _set(_: Renderer, mapping: dict[str, Any], key: str, value: Any) -> dict:
    mapping[key] = value
    return mapping


def _from_yaml(_: Renderer, text: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:  # Helm hides the error in an "Error" key
        return {"Error": str(exc)}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "include": lambda r, name, dot: r.include(name, dot),
    "required": _required,
    "fail": _fail,
    "default": lambda _, d, v=None: v if _truth(v) else d,
    "quote": lambda _, v: json.dumps(_gostr(v), ensure_ascii=False),
    "toJson": lambda _, v: json.dumps(v, ensure_ascii=False),
    "toYaml": _to_yaml,
    "fromYaml": _from_yaml,
    "nindent": lambda _, n, s: "\n" + _indent(n, s),
    "indent": lambda _, n, s: _indent(n, s),
    "trunc": lambda _, n, s: s[:n],
    "trimSuffix": lambda _, suffix, s: s.removesuffix(suffix),
    "replace": lambda _, old, new, s: s.replace(old, new),
    "lower": lambda _, s: s.lower(),
    "printf": _printf,
    "contains": lambda _, sub, s: sub in s,
    "hasPrefix": lambda _, prefix, s: s.startswith(prefix),
    "regexMatch": lambda _, pattern, s: re.search(pattern, s) is not None,
    "dig": _dig,
    "hasKey": lambda _, d, k: k in d,
    "deepCopy": lambda _, v: copy.deepcopy(v),
    "mustMergeOverwrite": _merge_overwrite,
    "set": _set,
    "dict": lambda _, *kv: dict(zip(kv[::2], kv[1::2], strict=True)),
    "first": lambda _, seq: seq[0] if seq else None,
    "int": lambda _, v: int(v or 0),
    "gt": lambda _, a, b: a > b,
    "eq": lambda _, a, b: a == b,
    "not": lambda _, v: not _truth(v),
    "sha256sum": lambda _, s: hashlib.sha256(s.encode()).hexdigest(),
}


def _merge_values(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing: maps merge, anything else replaces, null deletes."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_values(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def values(*overrides: dict[str, Any]) -> dict[str, Any]:
    merged = _yaml(CHART / "values.yaml")
    for extra in overrides:
        merged = _merge_values(merged, extra)
    return merged


def render(vals: dict[str, Any], lint: bool = False) -> dict[str, list[dict[str, Any]]]:
    """file name → the Kubernetes objects it renders to (as `helm template`)."""
    r = Renderer(vals, lint=lint)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in r.files:
        if name.startswith("_"):
            continue
        text = r.render_file(name)
        if name == "NOTES.txt":
            continue
        try:
            out[name] = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise AssertionError(f"{name} does not render to YAML:\n{text}\n{exc}") from exc
    return out


def objects(vals: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o for docs in render(vals).values() for o in docs
    }


# Values with every Secret the chart requires named, on top of the defaults.
MINIMAL = {
    "replicaCount": 1,
    "policies": {"files": {"schema.cedarschema": "// placeholder\n"}},
    "secrets": {"auditSigningKeys": {"existingSecret": "audit-keys", "files": ["a.private.pem"]}},
}


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


@pytest.mark.parametrize("path", sorted(TEMPLATES.iterdir()), ids=lambda p: p.name)
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


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.iterdir()))
def test_templates_parse(name: str) -> None:
    _parse((TEMPLATES / name).read_text(), name)


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
    with pytest.raises(TemplateError, match=re.escape("config.data_dir")):
        render(values(MINIMAL, {"config": {"data_dir": "/data"}}))
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


def _policy_files() -> dict[str, str]:
    src = ROOT / "policies"
    return {
        p.relative_to(src).as_posix(): p.read_text() for p in sorted(src.rglob("*")) if p.is_file()
    }


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
