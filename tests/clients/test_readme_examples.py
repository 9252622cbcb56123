"""clients/python/README.md's examples, each run as its own program against the real server
(CODERUN_URL and CODERUN_API_KEY in its environment, as the README says)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.clients.conftest import REPO, ClientServer

README = REPO / "clients" / "python" / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{n + 1}" for n in range(len(BLOCKS))])
def test_readme_example_runs(code: str, server: ClientServer) -> None:
    env = {**os.environ, "CODERUN_URL": server.base, "CODERUN_API_KEY": server.new_key()}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if "BadRequestError" in code:
        assert "400 bad_request unsupported language 'ruby'" in done.stdout
    if "time limit exceeded" in code:
        assert "time limit exceeded" in done.stdout
