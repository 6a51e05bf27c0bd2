"""masking/ is a service: nothing in it imports handlers/ (the boxes above
it), not even for annotations. Read from the source, so a TYPE_CHECKING or
function-level import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import s3gate.masking

MASKING = Path(s3gate.masking.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_masking_imports_nothing_of_handlers() -> None:
    modules = sorted(MASKING.glob("*.py"))
    assert len(modules) > 5  # the package is where this test thinks it is
    offending = {
        path.name: sorted(m for m in _imports(path) if m.startswith("s3gate.handlers"))
        for path in modules
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_check_sees_a_type_checking_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from s3gate.handlers.call import Call\n"
    )
    assert "s3gate.handlers.call" in _imports(module)
