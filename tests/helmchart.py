"""The chart in charts/s3gate rendered without a helm binary.

A small renderer for the subset of Go templates and Sprig functions the chart
uses, with Helm's values coalescing and, as Helm does before rendering, the
merged values checked against values.schema.json, so that the tests in
tests/unit/test_chart*.py can check the manifests `helm template` would
produce.

The renderer is deliberately strict: an unknown function, an unsupported
construct or a field of a missing value raises, so a template that grows past
the subset fails the tests instead of passing unchecked.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "s3gate"
TEMPLATES = CHART / "templates"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "s3gate"  # `helm install s3gate charts/s3gate`: fullname "s3gate"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def template_files() -> list[Path]:
    """Every file Helm renders (templates/ and its subfolders such as tests/)."""
    return sorted(p for p in TEMPLATES.rglob("*") if p.is_file())


def template_id(path: Path) -> str:
    return path.relative_to(TEMPLATES).as_posix()


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
    def __init__(
        self, values: dict[str, Any], lint: bool = False, sources: dict[str, str] | None = None
    ) -> None:
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
        for path in template_files():
            name = path.relative_to(TEMPLATES).as_posix()
            text = (sources or {}).get(name, path.read_text())  # a test's altered copy
            body, defines = _parse(text, name)
            self.defines.update(defines)
            self.files[name] = body

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

    return re.sub(r"%([svdqv%])", one, fmt)


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


class SchemaError(TemplateError):
    """Values that values.schema.json refuses: Helm stops before rendering."""


@functools.cache
def _values_validator() -> Any:
    import jsonschema  # a dev dependency, only needed here

    return jsonschema.Draft7Validator(json.loads((CHART / "values.schema.json").read_text()))


def check_values(vals: dict[str, Any]) -> None:
    """What `helm install` does first: the merged values against the schema."""
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in _values_validator().iter_errors(vals)
    ]
    if errors:
        raise SchemaError("values don't meet the schema's specifications: " + "; ".join(errors))


def render(
    vals: dict[str, Any],
    lint: bool = False,
    sources: dict[str, str] | None = None,
    schema: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """file name → the Kubernetes objects it renders to (as `helm template`,
    which checks the values against values.schema.json first; `schema=False`
    skips that, to reach a template's own checks). `sources` replaces the text
    of some templates (by path under templates/)."""
    if schema:
        check_values(vals)
    r = Renderer(vals, lint=lint, sources=sources)
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
