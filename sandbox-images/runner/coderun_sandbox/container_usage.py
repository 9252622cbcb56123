"""What a program used inside a sandbox pod, measured from the container's own cgroup.

A pod has no per-run cgroup: the runtime mounts the container's own group read-only at
/sys/fs/cgroup, and that group holds the runner (PID 1) as well as the program. wait4 sees
only the direct child and what it reaped, so a double-forked, setsid grandchild (handed to
the runner, PID 1, when its parent exits) or four children that each stay small would slip
past it. The cgroup counts every process that was ever in it, so the program's share is the
group's counters minus the runner's own part:

- CPU: the group's CPU time since the spawn minus the runner's own CPU time since then
  (CLOCK_PROCESS_CPUTIME_ID), so polling and draining pipes are not billed to the program.
- memory: the group's charge minus its charge just before the spawn (the runner's baseline;
  the runner allocates next to nothing while it watches). The group's peak cannot be reset
  from inside, so it counts only once it rose above the peak before the spawn; until then
  the highest sample (taken every poll) is the program's peak.
"""

from __future__ import annotations

import os
import signal
import time

from .cgroups import own_cpu_time_ns, own_memory_bytes, own_oom_kills, own_peak_memory_bytes


class ContainerUsage:
    """The program's share of the container's cgroup, from the moment this is made."""

    __slots__ = ("cpu_start", "highest", "memory_start", "oom_start", "peak_start", "self_start")

    def __init__(self) -> None:
        # Taken just before the spawn: everything in the group now is the runner's.
        self.self_start = time.process_time_ns()
        self.cpu_start = own_cpu_time_ns()
        self.memory_start = own_memory_bytes()
        self.peak_start = own_peak_memory_bytes()
        self.oom_start = own_oom_kills()
        self.highest = 0

    @property
    def measurable(self) -> bool:
        """Whether the container's CPU and memory counters can be read at all."""
        return self.cpu_start is not None and self.memory_start is not None

    def cpu_time_ms(self) -> int | None:
        group = own_cpu_time_ns()
        if group is None or self.cpu_start is None:
            return None
        runner = time.process_time_ns() - self.self_start
        return max(0, group - self.cpu_start - runner) // 1_000_000

    def memory_bytes(self) -> int | None:
        """The program's charge now (remembered as a sample of its peak)."""
        group = own_memory_bytes()
        if group is None or self.memory_start is None:
            return None
        used = max(0, group - self.memory_start)
        self.highest = max(self.highest, used)
        return used

    def peak_memory_bytes(self) -> int | None:
        if self.memory_start is None:
            return None
        peak = own_peak_memory_bytes()
        if peak is not None and self.peak_start is not None and peak > self.peak_start:
            return max(self.highest, peak - self.memory_start)
        return self.highest

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed anything in the container since the spawn."""
        now = own_oom_kills()
        return self.oom_start is not None and now is not None and now > self.oom_start


def kill_all_but_self() -> None:
    """SIGKILL every other process in the container, wherever it was re-parented.

    Only as the container's PID 1 (the runner in a pod): there kill(-1) reaches exactly the
    processes of our PID namespace but ourselves, which are all the program's. Anywhere else
    it would reach every process we may signal, so it is never sent.
    """
    if os.getpid() != 1:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
