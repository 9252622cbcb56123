"""docs/security.md names a test for every control; each one it names must exist, so the page
cannot drift from the suite."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `tests/x/test_y.py::test_z`, `tests/x/test_y.py` alone, and `::test_w` continuing the
# previous file in the same cell.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_named_in_security_md_exists() -> None:
    missing: list[str] = []
    named = 0
    for line in (ROOT / "docs" / "security.md").read_text().splitlines():
        current: Path | None = None
        for match in REFERENCE.finditer(line):
            file_part, name = match.groups()
            if file_part:
                current = ROOT / file_part
                if not current.exists():
                    missing.append(file_part)
                    current = None
                    continue
            if name and current is not None:
                named += 1
                if name not in _test_names(current):
                    missing.append(f"{current.relative_to(ROOT)}::{name}")
    assert named > 40, "the page should name the tests of its controls"
    assert missing == [], missing
