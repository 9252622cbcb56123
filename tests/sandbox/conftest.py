"""Helpers for the runner tests: real programs through the real sandbox, nothing mocked."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coderun_sandbox.contract import RunLimits, RunRequest
from coderun_sandbox.runner import execute
from coderun_sandbox.uids import uid_range
from coderun_sandbox.workdirs import workdir_base

RunFn = Callable[..., dict[str, Any]]


def run_program(language: str, code: str, stdin: str = "", **limits: int) -> dict[str, Any]:
    request = RunRequest(language, code, stdin, RunLimits(**limits))
    return execute(request).to_json_dict()


@pytest.fixture(scope="session", autouse=True)
def _private_sandbox_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This session's cgroups and work dirs live under names of their own, so the hygiene
    checks see only what these tests made, even when other runners share the machine."""
    tag = f"coderun-test-{os.getpid()}"
    base = Path("/dev/shm") / tag
    base.mkdir(mode=0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CODERUN_CGROUP_PARENT", tag)
        patch.setenv("CODERUN_WORKDIR_BASE", str(base))
        yield
    shutil.rmtree(base, ignore_errors=True)
    for controller in ("memory", "pids", "cpu", "cpuacct"):
        parent = Path("/sys/fs/cgroup", controller, tag)
        for owner in parent.glob("owner-*"):
            with contextlib.suppress(OSError):
                owner.rmdir()
        with contextlib.suppress(OSError):
            parent.rmdir()


@pytest.fixture(scope="session", autouse=True)
def _sandbox_prerequisites() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is missing: run `make deps` (apt-get install bubblewrap)")
    if os.geteuid() != 0:
        pytest.fail("the runner tests need root to create cgroups and drop to the sandbox uid")


@pytest.fixture
def run() -> RunFn:
    return run_program


def leftovers(settle_s: float = 2.0) -> dict[str, list[str]]:
    """Everything a run could leave behind on the host (waits briefly for teardown)."""
    deadline = time.monotonic() + settle_s
    found = _leftovers_now()
    while any(found.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
        found = _leftovers_now()
    return found


def _describe(proc: Path) -> str:
    stat = (proc / "stat").read_text()
    return (
        stat[stat.index("(") : stat.rindex(")") + 3]
        + " "
        + (proc / "cgroup").read_text().replace("\n", ";")
    )


def _parent(proc: Path) -> int:
    return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])


def _leftovers_now() -> dict[str, list[str]]:
    tag = os.environ["CODERUN_CGROUP_PARENT"]
    cgroups = []
    for controller in ("memory", "pids", "cpu", "cpuacct"):
        parent = Path("/sys/fs/cgroup", controller, tag)
        cgroups += [str(p) for p in parent.glob("owner-*/run-*")]
    processes = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                # Ours: in one of this session's groups, or a zombie/orphan of the sandbox user
                # that was handed to us.
                groups = (proc / "cgroup").read_text()
                ours = tag in groups
                # A zombie has left every group; one handed to us (as subreaper) counts too.
                orphan = (
                    proc.stat().st_uid in uid_range()
                    and _parent(proc) == os.getpid()
                    and ("/coderun/" not in groups)
                )
                if ours or orphan:
                    processes.append(f"{proc.name} {_describe(proc)}")
            except (FileNotFoundError, ProcessLookupError):
                continue
    base = str(workdir_base())
    mounts = [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if base in line
    ]
    workdirs = [str(p) for p in Path(workdir_base()).glob("coderun-*")]
    return {"cgroups": cgroups, "processes": processes, "mounts": mounts, "workdirs": workdirs}
