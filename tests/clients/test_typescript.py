"""The TypeScript client's own suite: `npm ci && npm test` in clients/typescript, as CI runs
it from a fresh clone (npm installs its devDependencies from the registry). `npm test` checks
that src/schema.ts is what openapi-typescript makes of clients/openapi.json, type-checks and
builds, then runs node:test against a real `coderun serve` it starts from this .venv: every
client method, retries, webhook verification (the spec's vector and real deliveries) and the
README's examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.conftest import TYPESCRIPT, npm


@pytest.mark.timeout(3600)
def test_npm_test_passes(built: Path) -> None:
    done = npm("test", timeout=3000)
    summary = [line for line in done.stdout.splitlines() if line.startswith("# ")]
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    assert "# fail 0" in summary, summary
    passed = next(int(line.split()[-1]) for line in summary if line.startswith("# pass"))
    assert passed >= 20, summary


def test_the_build_has_no_runtime_dependencies(built: Path) -> None:
    import json

    manifest = json.loads((TYPESCRIPT / "package.json").read_text())
    assert not manifest.get("dependencies")
    assert manifest["type"] == "module"
    for module in built.glob("*.js"):
        for line in module.read_text().splitlines():
            if line.startswith("import ") or (" from " in line and line.startswith("export ")):
                assert "'./" in line or '"./' in line, f"{module.name}: {line}"
