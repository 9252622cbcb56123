"""The sandbox images' entrypoint (`python3 -m coderun_sandbox run`) as a pod runs it, without
a cluster: PID 1 of a new PID namespace, inside a cgroup of its own whose limit is the
program's plus the runner's 32 MiB allowance, read through CODERUN_CGROUP_ROOT the way a
container sees its own group at /sys/fs/cgroup. Real hostile programs; the same points are
proved through the REST API on the real cluster in tests/operator/test_hostile_pods.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coderun_sandbox.contract import (
    INCOMPLETE_KEY,
    READY_KEY,
    RECEIVED_KEY,
    RESULT_KEY,
    RunLimits,
    RunRequest,
    SandboxEnv,
    frame_request,
)

from tests.utils.hostile_programs import IO_URING_PY, children_holding, grandchildren_spinning

RUNNER_DIR = Path(__file__).resolve().parents[2] / "sandbox-images" / "runner"
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
RUNNER_ALLOWANCE_MB = 32
UID = 65534
# Joins the groups named before "--" (writing its own pid), then execs the rest.
JOIN = 'while [ "$1" != "--" ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'

PodRun = Callable[..., dict[str, Any]]

GRANDCHILD_SPINS = grandchildren_spinning(1, main_sleep_s=2)
TWO_GRANDCHILDREN_SPIN = grandchildren_spinning(2, main_sleep_s=2.8)
FOUR_CHILDREN_66_MIB = children_holding(4, 66)


@pytest.fixture
def pod_run() -> Iterator[PodRun]:
    # Not under pytest's tmp_path: the runner runs as the sandbox uid and must reach it.
    base = Path(tempfile.mkdtemp(prefix="coderun-podsim-", dir="/dev/shm"))
    base.chmod(0o755)
    groups: list[Path] = []

    def run(
        code: str,
        memory_limit_mb: int = 256,
        pythonpath: str = "",
        cpus: int = 1,
        stdin: bytes | None = None,
        program_input: str = "",
        **env: str,
    ) -> dict[str, Any]:
        name = f"coderun-podsim-{os.getpid()}-{len(groups) // len(CONTROLLERS)}"
        root = base / name
        root.mkdir()
        for controller in CONTROLLERS:
            group = Path("/sys/fs/cgroup", controller, name)
            group.mkdir()
            groups.append(group)
            (root / controller).symlink_to(group)
        limit = (memory_limit_mb + RUNNER_ALLOWANCE_MB) << 20
        (root / "memory" / "memory.limit_in_bytes").write_text(str(limit))
        (root / "cpu" / "cpu.cfs_quota_us").write_text(str(cpus * 100_000))  # the pod's CPU limit
        if cpus > 1:
            # Outweigh the rest of a busy machine, so the pod really gets its cores.
            (root / "cpu" / "cpu.shares").write_text("262144")
        work = root / "work"
        work.mkdir()
        os.chown(work, UID, UID)
        tasks = [str(root / c / "tasks") for c in CONTROLLERS]
        argv = ["sh", "-c", JOIN, "join", *tasks, "--", "unshare", "--pid", "--fork"]
        argv += ["--kill-child", "setpriv", f"--reuid={UID}", f"--regid={UID}"]
        argv += ["--clear-groups", sys.executable, "-m", "coderun_sandbox", "run"]
        environment = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(RUNNER_DIR)) if p),
            "CODERUN_CGROUP_ROOT": str(root),
            **SandboxEnv(workdir=str(work)).to_env(),
            **env,
        }
        stdin_given = stdin
        if stdin is None:
            # As the operator delivers it: framed on the container's stdin (pods/attach).
            request = RunRequest(
                "python", code, program_input, RunLimits(memory_limit_mb=memory_limit_mb)
            )
            stdin = frame_request(request)
        done = subprocess.run(argv, env=environment, input=stdin, capture_output=True, timeout=60)
        assert done.stdout.endswith(b"\n"), (done.stdout, done.stderr)
        lines = [json.loads(line) for line in done.stdout.decode("ascii").splitlines()]
        marks = [key for line in lines for key in line]
        result: dict[str, Any] = lines[-1].get(RESULT_KEY) or {"marks": marks, **lines[-1]}
        assert marks[0] == READY_KEY, marks
        if RESULT_KEY in lines[-1] and stdin_given is None:
            assert marks == [READY_KEY, RECEIVED_KEY, RESULT_KEY], marks
        return result

    yield run
    for group in groups:
        with contextlib.suppress(OSError):
            group.rmdir()
    shutil.rmtree(base, ignore_errors=True)


def test_cpu_of_a_reparented_grandchild_is_counted(pod_run: PodRun) -> None:
    result = pod_run(GRANDCHILD_SPINS)
    # wait4 of main sees ~25 ms; the container's cgroup sees the grandchild's spinning too.
    assert result["stdout"] == "main done\n"
    assert result["cpuTimeMs"] >= 300, result


def test_cpu_of_reparented_grandchildren_over_the_limit_is_tle(pod_run: PodRun) -> None:
    # A pod allowed two CPUs: two grandchildren pass 3 s of CPU while main sleeps 2.8 s.
    result = pod_run(TWO_GRANDCHILDREN_SPIN, cpus=2)
    assert result["sandboxErrorType"] == "TLE", result
    assert result["cpuTimeMs"] > 3000
    assert result["stdout"] == ""  # stopped on CPU, before main woke


def test_four_children_together_over_the_limit_are_mle(pod_run: PodRun) -> None:
    # 4 x 66 MiB: no single process is near 256 MB, and the runner's allowance keeps the
    # kernel from killing anything, so the runner itself must judge them together.
    result = pod_run(FOUR_CHILDREN_66_MIB)
    assert result["sandboxErrorType"] == "MLE", result
    assert result["memoryKb"] > 256 * 1024


def test_line_separators_in_output_keep_the_result_line_whole(pod_run: PodRun) -> None:
    result = pod_run('print("name:\\u2028Ada\\u2029\\x85")')
    assert result["status"] == "success", result
    assert result["stdout"] == "name:\u2028Ada\u2029\x85\n"


def test_the_program_runs_under_the_syscall_filter(pod_run: PodRun) -> None:
    result = pod_run(IO_URING_PY)
    assert result["status"] == "success", result
    setup, status = result["stdout"].splitlines()
    assert setup == "io_uring_setup -1 1", result  # EPERM
    assert status == "2"


def test_no_syscall_filter_means_no_run(pod_run: PodRun) -> None:
    broken = Path(tempfile.mkdtemp(prefix="coderun-no-seccomp-", dir="/dev/shm"))
    broken.chmod(0o755)
    for module in ("seccomp", "pyseccomp"):
        (broken / f"{module}.py").write_text("raise ImportError('not installed')\n")
    result = pod_run("print('ran')", pythonpath=str(broken))
    assert result["sandboxErrorType"] == "SandboxError", result
    assert "syscall filter" in result["sandboxErrorMessage"]
    assert result["stdout"] == ""
    shutil.rmtree(broken)


STDIN_IS_ITS_OWN = """\
import os, sys, stat
mode = os.fstat(0).st_mode
print(stat.S_ISFIFO(mode), repr(sys.stdin.read()))
print(sorted(os.listdir("/proc/self/fd")))
"""


def test_the_program_reads_its_own_input_never_the_attach_stream(pod_run: PodRun) -> None:
    request = RunRequest("python", STDIN_IS_ITS_OWN, "mine\n")
    # Bytes after the frame (a second writer, a retried delivery) reach nobody.
    result = pod_run("", stdin=frame_request(request) + b"print('injected')\n" * 100)
    assert result["status"] == "success", result
    first, fds = result["stdout"].splitlines()
    assert first == "False 'mine\\n'", result  # a sealed copy, not the pipe
    assert "injected" not in result["stdout"]
    assert fds == "['0', '1', '2', '3']", result  # stdin, stdout, stderr, listdir's own


@pytest.mark.parametrize("cut", [0, 10, -5])
def test_a_request_cut_short_runs_nothing_and_reports_no_verdict(pod_run: PodRun, cut: int) -> None:
    framed = frame_request(RunRequest("python", "print('ran')"))
    result = pod_run("", stdin=framed[:cut])
    assert result["marks"] == [READY_KEY, INCOMPLETE_KEY], result
    assert RESULT_KEY not in result


def test_a_request_that_is_not_one_is_a_sandbox_error(pod_run: PodRun) -> None:
    result = pod_run("", stdin=b"coderun-request/1 2\n[]")
    assert result["sandboxErrorType"] == "SandboxError", result
    assert "invalid request" in result["sandboxErrorMessage"]
