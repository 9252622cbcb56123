"""The program's share of a container's cgroup, read from both cgroup layouts.

A host has one cgroup layout, so the v2 files (and v1 as containerd names its mounts) are
written by the test into a directory that stands in for /sys/fs/cgroup: layouts that
the host's own cannot give for real. The real v1 case runs in test_pod_entrypoint.py and on
the cluster (tests/operator/test_hostile_pods.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from coderun_sandbox import cgroups
from coderun_sandbox.container_usage import ContainerUsage

MIB = 1 << 20


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", str(tmp_path))
    return tmp_path


def v2(cpu_usec: int, current: int, peak: int, oom_kills: int = 0) -> dict[str, str]:
    return {
        "cgroup.controllers": "cpu memory pids\n",
        "cpu.stat": f"usage_usec {cpu_usec}\nuser_usec 1\nsystem_usec 1\n",
        "memory.current": f"{current}\n",
        "memory.peak": f"{peak}\n",
        "memory.events": f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {oom_kills}\n",
    }


def v1(cpu_ns: int, usage: int, max_usage: int, oom_kills: int = 0) -> dict[str, str]:
    return {
        "cpu,cpuacct/cpuacct.usage": f"{cpu_ns}\n",
        "memory/memory.usage_in_bytes": f"{usage}\n",
        "memory/memory.max_usage_in_bytes": f"{max_usage}\n",
        "memory/memory.oom_control": f"oom_kill_disable 0\nunder_oom 0\noom_kill {oom_kills}\n",
    }


Layout = Callable[..., dict[str, str]]


# v2 counts CPU in microseconds, v1 in nanoseconds.
@pytest.mark.parametrize(("make", "scale"), [(v2, 1), (v1, 1000)], ids=["v2", "v1"])
def test_the_runners_baseline_is_not_the_programs(root: Path, make: Layout, scale: int) -> None:
    write(root, make(1_000_000 * scale, 20 * MIB, 24 * MIB))
    usage = ContainerUsage()
    assert usage.measurable
    # The program (and its re-parented children) used 2.5 s and 200 MiB more.
    write(root, make(3_500_000 * scale, 220 * MIB, 230 * MIB, oom_kills=0))
    cpu = usage.cpu_time_ms()
    assert cpu is not None and 2400 <= cpu <= 2500  # less the runner's own CPU meanwhile
    assert usage.memory_bytes() == 200 * MIB
    assert usage.peak_memory_bytes() == 210 * MIB  # the peak rose past the start's
    assert not usage.oom_killed()
    write(root, make(3_500_000 * scale, 21 * MIB, 230 * MIB, oom_kills=1))
    assert usage.oom_killed()


def test_a_peak_from_before_the_spawn_is_not_the_programs(root: Path) -> None:
    write(root, v2(0, 20 * MIB, 60 * MIB))  # the runner's start-up peaked at 60 MiB
    usage = ContainerUsage()
    write(root, v2(0, 25 * MIB, 60 * MIB))
    usage.memory_bytes()  # one sample: 5 MiB
    write(root, v2(0, 22 * MIB, 60 * MIB))
    assert usage.peak_memory_bytes() == 5 * MIB


def test_unreadable_counters_are_not_measurable(root: Path) -> None:
    usage = ContainerUsage()
    assert not usage.measurable
    assert usage.cpu_time_ms() is None and usage.peak_memory_bytes() is None
