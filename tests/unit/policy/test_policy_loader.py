"""Loading a bundle: validation errors name file and line; the hash names
exactly the files that decide."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from s3gate.policy.loader import bundle_hash, load_bundle, snapshot
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError, split_policies
from tests.unit.policy.helpers import POLICIES, write_bundle

GOOD = '@id("ok") permit (principal, action in Action::"read", resource);\n'


def _problems(tmp_path: Path, files: str | Mapping[str, str]) -> list[str]:
    directory = write_bundle(tmp_path / "b", files)
    with pytest.raises(BundleError) as caught:
        load_bundle(PolicySettings(dir=directory))
    return [str(p) for p in caught.value.problems]


def test_schema_validation_error_names_file_and_line(tmp_path: Path) -> None:
    text = GOOD + "\n".join(
        [
            "",
            "// a comment",
            '@id("typo")',
            "permit (principal, action, resource)",
            'when { resource.bukket == "traces" };',
        ]
    )
    problems = _problems(tmp_path, {"access/team/x.cedar": text})
    assert problems
    assert all(p.startswith("access/team/x.cedar:4: for policy `typo`") for p in problems)
    assert "bukket" in problems[0]


def test_unknown_action_names_file_and_line(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, '\n\n@id("a")\npermit (principal, action == Action::"GetObjects", resource);'
    )
    assert problems[0].startswith("access/main.cedar:3: for policy `a`, unrecognized action")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = GOOD + '@id("b")\npermit (principal, action, resource) when { resource.bucket = "x" };\n'
    assert _problems(tmp_path, text) == [
        "access/main.cedar:2: syntax error: '=' is not a valid operator in Cedar"
    ]


def test_policies_need_a_unique_id(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        {
            "access/a.cedar": GOOD,
            "access/b.cedar": "\n" + GOOD + "permit (principal, action, resource);\n",
        },
    )
    assert problems == [
        'access/b.cedar:3: policy has no @id("…") annotation',
    ]
    problems = _problems(tmp_path / "2", {"access/a.cedar": GOOD, "access/b.cedar": "\n" + GOOD})
    assert problems == ['access/b.cedar:2: duplicate @id("ok"), first at access/a.cedar:1']


def test_reserved_ids_and_templates_are_refused(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        '@id("builtin:mine") permit (principal, action, resource);\n'
        '@id("t") permit (principal == ?principal, action, resource);\n',
    )
    assert problems == [
        "access/main.cedar:1: @id prefix 'builtin:' is reserved",
        "access/main.cedar:2: templates (?principal, ?resource) are not supported",
    ]


def test_schema_errors_name_the_line(tmp_path: Path) -> None:
    directory = write_bundle(tmp_path / "b", GOOD)
    schema = directory / "schema.cedarschema"
    original = schema.read_text()
    schema.write_text(original.replace("entity Role;", "entity Role {;"))
    with pytest.raises(BundleError) as caught:
        load_bundle(PolicySettings(dir=directory))
    (problem,) = caught.value.problems
    line = original.splitlines().index("entity Role;") + 1
    assert (problem.file, problem.line) == ("schema.cedarschema", line)
    schema.write_text(original.replace("  issuer: String,", "  issuer: Strng,", 1))
    with pytest.raises(BundleError) as caught:
        load_bundle(PolicySettings(dir=directory))
    (problem,) = caught.value.problems
    assert problem.line == original.splitlines().index("  issuer: String,") + 1
    assert "Strng" in problem.message


def test_missing_pieces_are_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="policy directory not found"):
        load_bundle(PolicySettings(dir=tmp_path / "nowhere"))
    (tmp_path / "empty" / "access").mkdir(parents=True)
    with pytest.raises(BundleError, match="schema file not found"):
        load_bundle(PolicySettings(dir=tmp_path / "empty"))
    directory = write_bundle(tmp_path / "nopolicies", {})
    with pytest.raises(BundleError, match=r"no policy files"):
        load_bundle(PolicySettings(dir=directory))
    directory = write_bundle(tmp_path / "binary", GOOD)
    (directory / "access" / "bad.cedar").write_bytes(b"\xff\xfe")
    with pytest.raises(BundleError, match=r"access/bad\.cedar: not valid UTF-8"):
        load_bundle(PolicySettings(dir=directory))


def test_hash_is_stable_and_names_exactly_the_deciding_files(tmp_path: Path) -> None:
    a = tmp_path / "a"
    shutil.copytree(POLICIES, a)
    first = load_bundle(PolicySettings(dir=a)).hash
    assert load_bundle(PolicySettings(dir=a)).hash == first
    # Same files elsewhere, written in another order: same hash.
    b = tmp_path / "b"
    for rel in sorted(snapshot(a, ("**/*",)), reverse=True):
        (b / rel).parent.mkdir(parents=True, exist_ok=True)
        (b / rel).write_bytes((a / rel).read_bytes())
    assert load_bundle(PolicySettings(dir=b)).hash == first
    # Tests, hidden directories and stray files do not decide anything.
    (b / "tests" / "extra.yaml").write_text("cases: []\n")
    (b / "..data_2025").mkdir()
    (b / "..data_2025" / "schema.cedarschema").write_text("garbage")
    (b / "README.md").write_text("notes")
    assert load_bundle(PolicySettings(dir=b)).hash == first
    # Policies, masking profiles and roles do.
    (b / "access" / "analyst.cedar").write_text(
        (b / "access" / "analyst.cedar").read_text() + "\n// comment\n"
    )
    changed = load_bundle(PolicySettings(dir=b)).hash
    assert changed != first
    (b / "masking").mkdir(exist_ok=True)
    (b / "masking" / "analyst-view.yaml").write_text("detectors: []\n")
    with_mask = load_bundle(PolicySettings(dir=b))
    assert with_mask.hash != changed and "masking/analyst-view.yaml" in with_mask.files
    (b / "roles.yaml").write_text((b / "roles.yaml").read_text() + "\n# edit\n")
    assert load_bundle(PolicySettings(dir=b)).hash != with_mask.hash
    # The set of hashed files is a setting.
    narrow = PolicySettings(dir=b, bundle_files=("schema.cedarschema", "access/**/*.cedar"))
    assert set(load_bundle(narrow).files) == {"schema.cedarschema"} | {
        f"access/{p.name}" for p in (b / "access").glob("*.cedar")
    }


def test_hash_is_unambiguous() -> None:
    assert bundle_hash({"a": b"bc"}) != bundle_hash({"ab": b"c"})
    assert bundle_hash({"a": b"", "b": b""}) != bundle_hash({"a": b"\x00" * 8 + b"\x01b"})


def test_bundle_parts_load_from_the_same_snapshot(tmp_path: Path) -> None:
    directory = write_bundle(tmp_path / "b", {"access/a.cedar": GOOD, "masking/p.yaml": "x: 1\n"})

    class Profiles:
        name = "masking"

        def load(self, files: Mapping[str, bytes]) -> object:
            if b"broken" in files.get("masking/p.yaml", b""):
                raise ValueError("profile p is broken")
            return sorted(f for f in files if f.startswith("masking/"))

    bundle = load_bundle(PolicySettings(dir=directory), parts=[Profiles()])
    assert bundle.extras["masking"] == ["masking/p.yaml"]
    (directory / "masking" / "p.yaml").write_text("broken")
    with pytest.raises(BundleError, match="masking: profile p is broken"):
        load_bundle(PolicySettings(dir=directory), parts=[Profiles()])


def test_statement_splitting_ignores_strings_and_comments() -> None:
    text = "\n".join(
        [
            "// a; b",
            '@id("x;y")',
            "permit (principal, action, resource)",
            '  when { context.operation == "a\\";b" };',
            "",
            "  forbid (principal, action, resource);  // end;",
        ]
    )
    chunks = split_policies(text)
    assert [c.line for c in chunks] == [2, 6]
    assert chunks[0].text.strip().endswith('"a\\";b" };')
