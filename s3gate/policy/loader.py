"""Read a policy directory into a validated, hashed, immutable `Bundle`.

Layout (relative to the policy directory):

    schema.cedarschema      the Cedar schema (human-readable format)
    access/**/*.cedar       access policies, each with a unique @id("…")
    tests/*.yaml            policy tests (`s3gate policy test`; not hashed)

The files are read once into memory; that snapshot is what gets hashed,
parsed and handed to bundle parts (masking profiles, …), so the bundle hash
names exactly the bytes that decide. Any problem rejects the whole bundle,
with every error naming its file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cedarpy

from s3gate.policy import obligations as obl
from s3gate.policy import projection
from s3gate.policy.cedar import Bundle
from s3gate.policy.guards import Guards
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import (
    BundleError,
    PolicyInfo,
    Problem,
    locate_word,
    split_declarations,
    split_policies,
)

SCHEMA_FILE = "schema.cedarschema"
POLICY_GLOB = "access/**/*.cedar"
RESERVED_PREFIX = "builtin:"
_UNRESOLVED = re.compile(r"failed to resolve types?: ([A-Za-z_][A-Za-z0-9_:]*)")


class BundlePart(Protocol):
    """Something else the bundle carries (e.g. masking profiles), built from
    the same file snapshot so that it reloads atomically with the policies.
    `load` raises BundleError (or ValueError) to reject the bundle."""

    name: str

    def load(self, files: Mapping[str, bytes]) -> object: ...


@runtime_checkable
class PolicyCheckedPart(BundlePart, Protocol):
    """A part whose content the policies refer to (e.g. `@mask` names a
    profile): `check_policies` gets what `load` returned and the *parsed*
    policies (annotations as Cedar read them, so there is one parser), and
    returns the problems that reject the bundle."""

    def check_policies(self, loaded: object, policies: Sequence[PolicyInfo]) -> list[Problem]: ...


def snapshot(directory: Path, patterns: Sequence[str]) -> dict[str, bytes]:
    """relative path → content of every file matching `patterns`. Hidden path
    segments are skipped (Kubernetes mounts keep old copies in `..data_*`)."""
    files: dict[str, bytes] = {}
    if not directory.is_dir():
        raise BundleError([Problem(str(directory), None, "policy directory not found")])
    for pattern in patterns:
        for path in directory.glob(pattern):
            rel = path.relative_to(directory).as_posix()
            if any(part.startswith(".") for part in rel.split("/")) or not path.is_file():
                continue
            try:
                files[rel] = path.read_bytes()
            except OSError as exc:
                raise BundleError([Problem(rel, None, f"cannot read: {exc.strerror}")]) from exc
    return files


def bundle_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the sorted (path, content) pairs, each length-prefixed so
    that no two different bundles can produce the same byte stream."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        name, content = rel.encode(), files[rel]
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def load_bundle(
    settings: PolicySettings,
    directory: Path | None = None,
    *,
    parts: Sequence[BundlePart] = (),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Bundle:
    root = directory if directory is not None else settings.dir
    patterns = tuple(dict.fromkeys((SCHEMA_FILE, POLICY_GLOB, *settings.bundle_files)))
    files = snapshot(root, patterns)
    schema = _load_schema(files)
    policies, est = _load_policies(files, schema)
    extras: dict[str, object] = {}
    problems: list[Problem] = []
    for part in parts:
        try:
            extras[part.name] = part.load(files)
        except BundleError as exc:
            problems.extend(exc.problems)
        except ValueError as exc:
            problems.append(Problem(part.name, None, str(exc)))
    for part in parts:
        if part.name in extras and isinstance(part, PolicyCheckedPart):
            ordered = sorted(policies.values(), key=lambda info: info.order)
            problems.extend(part.check_policies(extras[part.name], ordered))
    if problems:
        raise BundleError(problems)
    document = {"staticPolicies": est, "templates": {}, "templateLinks": []}
    return Bundle(
        bundle_hash=bundle_hash(files),
        loaded_at=clock(),
        directory=root,
        files=files,
        policies=policies,
        policy_set=cedarpy.PolicySet.from_json_str(json.dumps(document)),
        schema=schema,
        guards=Guards(settings.audit_bucket, settings.internal_prefixes),
        projection=projection.analyse(est.values()),
        extras=extras,
        cache_size=settings.decision_cache_size,
    )


def _text(files: Mapping[str, bytes], rel: str) -> str:
    try:
        return files[rel].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError([Problem(rel, None, "not valid UTF-8")]) from exc


def _load_schema(files: Mapping[str, bytes]) -> cedarpy.Schema:
    if SCHEMA_FILE not in files:
        raise BundleError([Problem(SCHEMA_FILE, None, "schema file not found")])
    text = _text(files, SCHEMA_FILE)
    try:
        return cedarpy.Schema.from_str(text)
    except ValueError as exc:
        raise BundleError([Problem(SCHEMA_FILE, _schema_line(text, str(exc)), str(exc))]) from exc


def _schema_line(text: str, message: str) -> int | None:
    """cedarpy gives no position: find the declaration that fails to parse on
    its own, or the first use of a type it could not resolve."""
    if message.startswith("error parsing schema"):
        for chunk in split_declarations(text):
            try:
                cedarpy.Schema.from_str(chunk.text)
            except ValueError as exc:
                if str(exc).startswith("error parsing schema"):
                    return chunk.line
    unresolved = _UNRESOLVED.search(message)
    if unresolved:
        return locate_word(text, unresolved.group(1))
    return None


def _load_policies(
    files: Mapping[str, bytes], schema: cedarpy.Schema
) -> tuple[dict[str, PolicyInfo], dict[str, Any]]:
    problems: list[Problem] = []
    infos: dict[str, PolicyInfo] = {}
    est: dict[str, Any] = {}
    sources = sorted(f for f in files if f.startswith("access/") and f.endswith(".cedar"))
    for rel in sources:
        try:
            text = _text(files, rel)
        except BundleError as exc:
            problems.extend(exc.problems)
            continue
        found, file_problems = _parse_file(rel, text, order=len(infos))
        problems.extend(file_problems)
        if file_problems:
            continue
        problems.extend(_validate(rel, text, [info for info, _ in found], schema))
        for info, policy in found:
            other = infos.get(info.id)
            if other is not None:
                message = f'duplicate @id("{info.id}"), first at {other.location}'
                problems.append(Problem(rel, info.line, message))
                continue
            infos[info.id] = info
            est[info.id] = policy
    if not sources:
        problems.append(Problem("access/", None, "no policy files (*.cedar) found"))
    if problems:
        raise BundleError(problems)
    return infos, est


def _parse_file(
    rel: str, text: str, order: int
) -> tuple[list[tuple[PolicyInfo, Any]], list[Problem]]:
    found: list[tuple[PolicyInfo, Any]] = []
    problems: list[Problem] = []
    for chunk in split_policies(text):
        try:
            parsed = json.loads(cedarpy.policies_to_json_str(chunk.text))
        except ValueError as exc:
            problems.append(Problem(rel, chunk.line, f"syntax error: {exc}"))
            continue
        if parsed.get("templates"):
            problems.append(
                Problem(rel, chunk.line, "templates (?principal, ?resource) are not supported")
            )
            continue
        policies = list(parsed.get("staticPolicies", {}).values())
        if len(policies) != 1:
            problems.append(Problem(rel, chunk.line, "expected exactly one policy here"))
            continue
        policy = policies[0]
        annotations = {str(k): str(v) for k, v in policy.get("annotations", {}).items()}
        policy_id = annotations.get("id", "")
        if not policy_id:
            problems.append(Problem(rel, chunk.line, 'policy has no @id("…") annotation'))
            continue
        if policy_id.startswith(RESERVED_PREFIX):
            problems.append(Problem(rel, chunk.line, f"@id prefix {RESERVED_PREFIX!r} is reserved"))
            continue
        effect = str(policy.get("effect"))
        for message in obl.check_annotations(effect, annotations):
            problems.append(Problem(rel, chunk.line, f"{policy_id}: {message}"))
        info = PolicyInfo(policy_id, rel, chunk.line, effect, annotations, order + len(found))
        found.append((info, policy))
    return found, problems


def _validate(
    rel: str, text: str, infos: list[PolicyInfo], schema: cedarpy.Schema
) -> list[Problem]:
    """Validate a file against the schema. cedarpy names the file's policies
    policy0, policy1, … in order: map them back to our ids and lines."""
    result = cedarpy.validate_policies(text, schema)
    if result.validation_passed:
        return []
    problems = []
    for error in result.errors:
        index = error.policy_id.removeprefix("policy")
        info = infos[int(index)] if index.isdigit() and int(index) < len(infos) else None
        message = error.error
        if info is not None:
            message = message.replace(f"`{error.policy_id}`", f"`{info.id}`")
        problems.append(Problem(rel, info.line if info else None, message))
    return problems
