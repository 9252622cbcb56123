"""A sandbox that failed to start is told from a program that failed by a mark only the
sandbox's start-up writes, on a pipe the program never holds."""

from __future__ import annotations

from coderun_sandbox.contract import RunRequest
from coderun_sandbox.isolation import BubblewrapIsolation
from coderun_sandbox.runner import execute

from tests.utils.hostile_programs import FORGED_SETUP_FAILURE_PY

from .conftest import RunFn


def test_a_program_that_prints_bubblewraps_failure_is_its_own_runtime_error(run: RunFn) -> None:
    result = run("python", FORGED_SETUP_FAILURE_PY)
    assert (result["status"], result["sandboxErrorType"]) == ("failed", "RuntimeError"), result
    assert result["exitCode"] == 1
    assert result["stderr"].startswith("bwrap: Can't mount proc")


def test_the_program_never_holds_the_start_pipe(run: RunFn) -> None:
    code = "import os\nprint(sorted(int(n) for n in os.listdir('/proc/self/fd')))"
    result = run("python", code)
    assert result["stdout"] == "[0, 1, 2, 3]\n", result  # 3: the listing itself


class _MissingBind(BubblewrapIsolation):
    """bubblewrap told to bind a path that does not exist: it fails before the program."""

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        args = super().wrap(argv, workdir)
        end = args.index("--")
        return [*args[:end], "--ro-bind", "/nonexistent-coderun-bind", "/x", *args[end:]]


def test_a_real_setup_failure_is_still_a_sandbox_error() -> None:
    data = execute(RunRequest("python", "print(1)"), isolation=_MissingBind()).to_json_dict()
    assert data["sandboxErrorType"] == "SandboxError", data
    assert "the sandbox failed to start" in data["sandboxErrorMessage"]
    assert "nonexistent-coderun-bind" in data["sandboxErrorMessage"]
