"""Judge mode in the runner: compiled once, each case in a fresh process and work dir.

On the embedded executor (bubblewrap, a private work dir per case) and in the sandbox pod's
entrypoint as a pod runs it (tests/sandbox/test_pod_entrypoint.py's simulator: PID 1 of its
own PID namespace, the program as the runner's uid, one emptyDir-like work dir and /tmp that
the runner empties between cases). Real programs; the verdicts here are the runner's own
(no expected outputs: those are judged on the API side, tests/api/test_judge.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from coderun_sandbox import runner
from coderun_sandbox.contract import RunLimits, RunRequest, RunResult, SandboxEnv, frame_request
from coderun_sandbox.runner import execute

from tests.sandbox.test_pod_entrypoint import UID, PodRun, pod_run  # noqa: F401  (fixture)

# Leaves files behind in every writable place it knows, a directory it locks (mode 000)
# with a file inside, a deep tree, and its own program replaced, then reports what it saw
# of an earlier case.
PY_LITTER = r"""
import os, sys
action, _, scratch = sys.stdin.read().strip().partition(" ")
places = ["left.txt", os.path.join(scratch or "/tmp", "left.txt")]
seen = [p for p in places if os.path.exists(p)] + [p for p in ("locked", "deep") if os.path.exists(p)]
if action == "litter":
    for path in places:
        with open(path, "w") as handle:
            handle.write("x" * 4096)
    os.mkdir("locked")
    open("locked/inside", "w").write("x")
    os.chmod("locked", 0)
    path = "deep"
    for _ in range(300):
        os.mkdir(path)
        os.chdir(path)
        path = "d"
    os.chdir(os.environ.get("HOME", "/"))
    os.remove(__file__)  # owned by the runner (embedded) or by us (pod): replace it
    with open(__file__, "w") as handle:
        handle.write("print('tampered')\n")
print("saw", *seen) if seen else print("clean")
"""

CPP_ECHO_ARGS = """#include <iostream>
int main(int argc, char** argv) { std::string s; std::cin >> s;
  std::cout << s; for (int i = 1; i < argc; i++) std::cout << ' ' << argv[i]; std::cout << '\\n'; }
"""


def case_stdout(result: dict[str, Any]) -> list[str]:
    return [case["stdout"] for case in result["testCases"]]


def test_compiled_once_and_each_case_gets_its_input_and_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiles: list[str] = []
    real_compile = runner.compile_phase

    def counting(request: RunRequest, workdir: str, isolation: Any) -> RunResult | None:
        compiles.append(workdir)
        return real_compile(request, workdir, isolation)

    monkeypatch.setattr(runner, "compile_phase", counting)
    request = RunRequest("cpp", CPP_ECHO_ARGS, cases=("a", "b", "c"), arguments=("x", "y z"))
    result = execute(request).to_json_dict()
    assert len(compiles) == 1
    assert case_stdout(result) == ["a x y z\n", "b x y z\n", "c x y z\n"]
    assert result["status"] == "success" and result["compileTimeMs"] > 0


def test_embedded_cases_never_see_what_an_earlier_case_left() -> None:
    result = execute(RunRequest("python", PY_LITTER, cases=("litter", "look", "look")))
    data = result.to_json_dict()
    assert case_stdout(data) == ["clean\n", "clean\n", "clean\n"], data


def test_a_compile_error_runs_no_case() -> None:
    data = execute(RunRequest("cpp", "int main( {", cases=("1", "2"))).to_json_dict()
    assert data["sandboxErrorType"] == "CompilationError"
    assert [c["status"] for c in data["testCases"]] == ["skipped", "skipped"]


def _scratch() -> str:
    path = tempfile.mkdtemp(prefix="coderun-scratch-", dir="/dev/shm")
    os.chown(path, UID, UID)
    return path


def test_pod_cases_start_clean_and_run_the_program_as_compiled(pod_run: PodRun) -> None:  # noqa: F811
    """In a pod the program runs as the runner's uid, in one work dir: the runner empties
    the work dir and the scratch dir between cases (locked and deep directories too), and
    writes back the program it read before any case ran, so a case that replaced it
    changes nothing for the next."""
    scratch = _scratch()  # the pod's /tmp: the simulator's PID 1 shares the host's /tmp
    cases = (f"litter {scratch}", f"look {scratch}", f"look {scratch}")
    request = RunRequest("python", PY_LITTER, cases=cases)
    result = pod_run("", stdin=frame_request(request), **SandboxEnv(scratch_dir=scratch).to_env())
    assert case_stdout(result) == ["clean\n", "clean\n", "clean\n"], result
    assert result["status"] == "success"
    assert not list(Path(scratch).iterdir())  # emptied again before the last case
    os.rmdir(scratch)


def test_pod_cases_mle_and_tle_stop_only_their_case(pod_run: PodRun) -> None:  # noqa: F811
    code = (
        "import sys\nmode = sys.stdin.read().strip()\n"
        "if mode == 'big':\n    hog = b'x' * (300 << 20)\n"
        "if mode == 'spin':\n    while True: pass\n"
        "if mode == 'medium':\n    hog = b'x' * (150 << 20)\n"
        "print(mode)\n"
    )
    request = RunRequest(
        "python", code, cases=("big", "medium", "spin", "ok"), limits=RunLimits(time_limit_ms=3000)
    )
    result = pod_run(
        "", stdin=frame_request(request), **SandboxEnv(scratch_dir=_scratch()).to_env()
    )
    cases = result["testCases"]
    assert [c["sandboxErrorType"] for c in cases] == ["MLE", None, "TLE", None], cases
    assert cases[1]["stdout"] == "medium\n" and cases[1]["memoryKb"] < 256 * 1024
    assert result["sandboxErrorType"] == "MLE"  # the first failing case's
    stop = request._replace(stop_on_failure=True)
    stopped = pod_run("", stdin=frame_request(stop), **SandboxEnv(scratch_dir=_scratch()).to_env())
    assert [c["status"] for c in stopped["testCases"]] == [
        "failed",
        "skipped",
        "skipped",
        "skipped",
    ]
