"""Every relative link in README.md and docs/ (and the chart's README, when
there is one) resolves inside the repository; no file points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    + [p for p in [REPO / "charts" / "s3gate" / "README.md"] if p.exists()]
)
# [text](target) and [text]: target reference definitions; not images of URLs.
_INLINE = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.M)
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text())
    return _INLINE.findall(text) + _REFERENCE.findall(text)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces → '-'."""
    out = set()
    for line in _FENCE.sub("", path.read_text()).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link: its text
            title = re.sub(r"[^\w\- ]", "", title)
            out.add(title.replace(" ", "-"))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, …
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.is_relative_to(REPO):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{doc.relative_to(REPO)}: " + "; ".join(broken)


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0 and listed.stdout.strip():
        names = listed.stdout.split()
    else:  # not a git checkout (an sdist): every file under the repository
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()]
    skip = (".venv/", "data/", ".git/", ".mypy_cache/", ".ruff_cache/", ".pytest_cache/")
    suffixes = {".md", ".py", ".yaml", ".yml", ".txt", ".cedar", ".toml", ".tpl", ".json", ""}
    return [
        REPO / n
        for n in names
        if not n.startswith(skip) and Path(n).suffix in suffixes and (REPO / n).is_file()
    ]


def test_no_file_points_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared\b|/work/shared")
    offenders = []
    for path in _tracked_text_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if outside.search(text):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"files pointing outside the repository: {offenders}"


def test_the_example_bundle_policy_count_is_true() -> None:
    text = (REPO / "docs" / "policies.md").read_text()
    claimed = {int(n) for n in re.findall(r"example bundle \((\d+) policies\)", text)}
    shipped = sum(
        len(re.findall(r"^@id\(", p.read_text(), re.M))
        for p in (REPO / "policies" / "access").glob("*.cedar")
    )
    assert claimed == {shipped}
