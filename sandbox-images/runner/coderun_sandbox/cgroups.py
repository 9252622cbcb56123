"""Per-run control groups: the memory, process and CPU limits the kernel enforces.

cgroup v1 (separate hierarchies per controller, as on these machines) and v2 (unified) are
both supported. Where neither can be written (not root, read-only /sys/fs/cgroup) the runner
still runs, with a warning: rlimits remain, but memory and PID limits are not enforced.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path(os.environ.get("CODERUN_CGROUP_ROOT", "/sys/fs/cgroup"))


def parent_name() -> str:
    """A dedicated parent so that our groups never mix with the machine's own."""
    return os.environ.get("CODERUN_CGROUP_PARENT", "coderun")


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


def owner_name() -> str:
    """This process's subgroup. Runs are grouped by the process supervising them, so that a
    later process can tell which groups lost their supervisor (it crashed) and clean them up.
    The start time makes a reused pid a different owner."""
    return f"owner-{os.getpid()}-{_start_ticks(os.getpid())}"


def _owner_alive(name: str) -> bool:
    try:
        _, pid, ticks = name.split("-", 2)
        return _start_ticks(int(pid)) == ticks
    except ValueError:
        return True  # not ours to judge


def _parents() -> list[Path]:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT / parent_name()]
    return [CGROUP_ROOT / c / parent_name() for c in V1_CONTROLLERS]


def sweep_dead_owners() -> int:
    """Kill and remove the run groups of supervisors that died; returns how many went."""
    removed = 0
    for parent in _parents():
        if not parent.is_dir():
            continue
        for owner in parent.glob("owner-*"):
            if _owner_alive(owner.name):
                continue
            for run in owner.glob("run-*"):
                key = "unified" if parent.parent == CGROUP_ROOT else parent.parent.name
                RunCgroup(version=2 if key == "unified" else 1, dirs={key: run}).destroy()
                removed += 1
            with contextlib.suppress(OSError):
                owner.rmdir()
    return removed


_swept = False


V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    pass


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def detect_version() -> int | None:
    """2 for a unified hierarchy, 1 for writable v1 controllers, None if we cannot use either."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return 2 if os.access(CGROUP_ROOT, os.W_OK) else None
    if all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("memory", "pids")):
        return 1
    return None


@dataclass
class RunCgroup:
    """One run's group(s). Create with `create`, put the child in with `procs_files`."""

    version: int
    dirs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, memory_bytes: int, max_pids: int, cpus: float = 1.0) -> RunCgroup:
        global _swept
        version = detect_version()
        if version is None:
            raise CgroupUnavailable(f"cannot write cgroups under {CGROUP_ROOT}")
        if not _swept:
            _swept = True
            sweep_dead_owners()
        name = f"run-{uuid.uuid4().hex[:16]}"
        group = cls(version=version)
        try:
            if version == 1:
                group._create_v1(name, memory_bytes, max_pids, cpus)
            else:
                group._create_v2(name, memory_bytes, max_pids, cpus)
        except OSError as error:
            group.destroy()
            raise CgroupUnavailable(f"creating cgroup {name}: {error}") from error
        return group

    def _create_v1(self, name: str, memory_bytes: int, max_pids: int, cpus: float) -> None:
        for controller in V1_CONTROLLERS:
            base = CGROUP_ROOT / controller
            if not base.is_dir() or (controller == "cpuacct" and self._same_as_cpu(base)):
                continue
            path = base / parent_name() / owner_name() / name
            path.mkdir(parents=True)
            self.dirs[controller] = path
        memory = self.dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(OSError):  # only with swap accounting
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(memory / "memory.swappiness", "0")
        _write(self.dirs["pids"] / "pids.max", str(max_pids))
        if "cpu" in self.dirs:
            _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(int(CPU_PERIOD_US * cpus)))

    def _same_as_cpu(self, cpuacct: Path) -> bool:
        return "cpu" in self.dirs and cpuacct.resolve() == (CGROUP_ROOT / "cpu").resolve()

    def _create_v2(self, name: str, memory_bytes: int, max_pids: int, cpus: float) -> None:
        parent = CGROUP_ROOT / parent_name() / owner_name()
        parent.mkdir(parents=True, exist_ok=True)
        for level in (parent.parent, parent):
            with contextlib.suppress(OSError):
                _write(level / "cgroup.subtree_control", "+memory +pids +cpu")
        path = parent / name
        path.mkdir()
        self.dirs["unified"] = path
        _write(path / "memory.max", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(path / "memory.swap.max", "0")
        _write(path / "pids.max", str(max_pids))
        with contextlib.suppress(OSError):
            _write(path / "cpu.max", f"{int(CPU_PERIOD_US * cpus)} {CPU_PERIOD_US}")

    def procs_files(self) -> list[str]:
        """Files a child writes its own pid into (before exec) to join every group."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def oom_killed(self) -> bool:
        if self.version == 1:
            count = _read_keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill")
        else:
            count = _read_keyed(self.dirs["unified"] / "memory.events", "oom_kill")
        return bool(count)

    def peak_memory_bytes(self) -> int | None:
        if self.version == 1:
            return _read_int(self.dirs["memory"] / "memory.max_usage_in_bytes")
        return _read_int(self.dirs["unified"] / "memory.peak")

    def cpu_time_ms(self) -> int | None:
        if self.version == 1:
            acct = self.dirs.get("cpuacct", self.dirs.get("cpu"))
            nanos = _read_int(acct / "cpuacct.usage") if acct else None
            return None if nanos is None else nanos // 1_000_000
        micros = _read_keyed(self.dirs["unified"] / "cpu.stat", "usage_usec")
        return None if micros is None else micros // 1000

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self) -> None:
        """SIGKILL every process still in the group, until none is left."""
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        for _ in range(200):
            remaining = self.pids()
            if not remaining:
                return
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
            for pid in remaining:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def destroy(self) -> None:
        self.kill_all()
        for path in self.dirs.values():
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # exiting processes still leaving the group
            else:
                warnings.warn(f"could not remove cgroup {path}", RuntimeWarning, stacklevel=2)


def own_oom_kills() -> int | None:
    """OOM kills so far in the cgroup this process is in, as the container sees it.

    Inside a pod the runtime mounts the container's own cgroup at /sys/fs/cgroup, so the
    runner can tell a kernel OOM kill of the program from any other SIGKILL.
    """
    v2 = _read_keyed(CGROUP_ROOT / "memory.events", "oom_kill")
    if v2 is not None:
        return v2
    return _read_keyed(CGROUP_ROOT / "memory" / "memory.oom_control", "oom_kill")


def own_peak_memory_bytes() -> int | None:
    return _read_int(CGROUP_ROOT / "memory.peak") or _read_int(
        CGROUP_ROOT / "memory" / "memory.max_usage_in_bytes"
    )
