"""Runs in parallel never see each other, and many runs leave nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coderun_sandbox.cgroups import sweep_dead_owners
from coderun_sandbox.uids import uid_range
from coderun_sandbox.workdirs import sweep_dead_owners as sweep_dead_workdirs
from coderun_sandbox.workdirs import workdir_base

from .conftest import RunFn, leftovers

PEEK = """
import os, sys, time
mine = sys.argv[0]
token = input()
open('/work/token', 'w').write(token)
open('/tmp/token', 'w').write(token)
time.sleep(0.3)
seen = []
for d in ('/work', '/tmp'):
    seen.append(open(d + '/token').read())
print(token, *seen, len([p for p in os.listdir('/proc') if p.isdigit()]))
"""


def test_parallel_runs_do_not_see_each_other(run: RunFn) -> None:
    tokens = [uuid.uuid4().hex for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: run("python", PEEK, t + "\n"), tokens))
    for token, result in zip(tokens, results, strict=True):
        assert result["status"] == "success", result
        mine, from_work, from_tmp, processes = result["stdout"].split()
        assert mine == from_work == from_tmp == token
        assert int(processes) <= 3


def test_a_thousand_runs_leave_nothing_behind(run: RunFn) -> None:
    def one(i: int) -> tuple[int, str, str]:
        result = run("python", "print(int(input()) * 2)", f"{i}\n")
        return i, result["status"], result["stdout"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(one, range(1000)))
    wrong = [o for o in outcomes if o[1] != "success" or o[2] != f"{o[0] * 2}\n"]
    assert wrong == []
    assert leftovers() == {"cgroups": [], "processes": [], "mounts": [], "workdirs": []}


def test_a_crashed_supervisor_leaves_no_sandbox_running(run: RunFn, tmp_path: Path) -> None:
    """SIGKILL the process that runs a sandbox: the program dies with it (bubblewrap's
    --die-with-parent; no unsupervised run), and the next supervisor removes the dead one's
    cgroups and work dir."""
    script = tmp_path / "supervisor.py"
    script.write_text(
        "from coderun_sandbox.contract import RunRequest\n"
        "from coderun_sandbox.runner import execute\n"
        "execute(RunRequest('python', 'import time\\ntime.sleep(25)'))\n"
    )
    supervisor = subprocess.Popen([sys.executable, str(script)], env=dict(os.environ))
    # The supervisor's runs live in its own owner group under this session's parent.
    group = f"/{os.environ['CODERUN_CGROUP_PARENT']}/owner-{supervisor.pid}-"

    def sandboxed() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if proc.name.isdigit() and group in (proc / "cgroup").read_text():
                    found.append(proc.name)
        return found

    deadline = time.monotonic() + 20
    while not sandboxed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandboxed(), "the sandboxed program never started"
    supervisor.kill()
    supervisor.wait()
    deadline = time.monotonic() + 10
    while sandboxed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandboxed() == []
    workdirs = list(Path(workdir_base()).glob(f"coderun-{supervisor.pid}-*"))
    assert workdirs, "the killed supervisor had no chance to remove its work dir"
    assert sweep_dead_owners() >= 1
    assert sweep_dead_workdirs(workdir_base(), {os.geteuid(), *uid_range()}) >= 1
    assert not any(path.exists() for path in workdirs)
    assert run("python", "print('next')")["stdout"] == "next\n"
    assert leftovers() == {"cgroups": [], "processes": [], "mounts": [], "workdirs": []}


CLOSED_STDIO = """
import os
os.close(0)
os.close(1)  # the runner's own pipes now get these numbers from the kernel
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute
program = "import sys\\nprint(sys.stdin.read().upper())\\nprint('to stderr', file=sys.stderr)"
result = execute(RunRequest("python", program, "abc"))
os.write(2, result.to_json().encode())
"""


def test_a_supervisor_without_stdin_or_stdout_still_wires_the_program_up() -> None:
    """A daemon started with descriptors 0-2 closed: the runner's pipes and stdin memfd then
    get those numbers, and must still reach the program as its stdin, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-c", CLOSED_STDIO], capture_output=True, timeout=120, env=os.environ
    )
    result = json.loads(done.stderr)
    assert (result["status"], result["stdout"], result["stderr"]) == (
        "success",
        "ABC\n",
        "to stderr\n",
    ), result
