"""Per-run control groups: the memory, process and CPU limits the kernel enforces.

cgroup v1 (separate hierarchies per controller, still the default of many hosts) and v2
(unified) are both supported. Where neither can be written (not root, read-only
/sys/fs/cgroup) the runner still runs, with a warning: rlimits remain, but memory and PID
limits are not enforced.
"""

from __future__ import annotations

import os
import signal
import time

from .owners import owner_alive, owner_token

# Paths are plain strings (os.path), not pathlib: this module is on every `coderun run`'s
# import path, and the groups' paths come only from our own names, never from a program.
CGROUP_ROOT = os.environ.get("CODERUN_CGROUP_ROOT", "/sys/fs/cgroup")


def parent_name() -> str:
    """A dedicated parent so that our groups never mix with the machine's own."""
    return os.environ.get("CODERUN_CGROUP_PARENT", "coderun")


def owner_name() -> str:
    """This process's subgroup. Runs are grouped by the process supervising them, so that a
    later process can tell which groups lost their supervisor (it crashed) and clean them up."""
    return f"owner-{owner_token()}"


def _is_unified() -> bool:
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def _parents() -> dict[str, str]:
    """Our parent group per hierarchy ("unified" for v2, else the v1 controller)."""
    if _is_unified():
        return {"unified": os.path.join(CGROUP_ROOT, parent_name())}
    return {c: os.path.join(CGROUP_ROOT, c, parent_name()) for c in V1_CONTROLLERS}


def _subdirs(path: str, prefix: str) -> list[str]:
    try:
        return [e.path for e in os.scandir(path) if e.name.startswith(prefix) and e.is_dir()]
    except OSError:
        return []


def sweep_dead_owners() -> int:
    """Kill and remove the run groups of supervisors that died; returns how many went."""
    removed = 0
    for key, parent in _parents().items():
        for owner in _subdirs(parent, "owner-"):
            if owner_alive(os.path.basename(owner).removeprefix("owner-")):
                continue
            for run in _subdirs(owner, "run-"):
                RunCgroup(version=2 if key == "unified" else 1, dirs={key: run}).destroy()
                removed += 1
            try:
                os.rmdir(owner)
            except OSError:
                pass
    return removed


_swept = False


V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    pass


def _write(path: str, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _write_if_supported(path: str, value: str) -> None:
    """A write whose failure changes nothing we rely on: settings only some kernels offer
    (swap accounting, cpu.max, delegation), or cgroup.kill, which kill_all backs up."""
    try:
        _write(path, value)
    except OSError:
        pass


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _read_int(path: str) -> int | None:
    try:
        return int(_read(path).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: str, key: str) -> int | None:
    try:
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def detect_version() -> int | None:
    """2 for a unified hierarchy, 1 for writable v1 controllers, None if we cannot use either."""
    if _is_unified():
        return 2 if os.access(CGROUP_ROOT, os.W_OK) else None
    if all(os.access(os.path.join(CGROUP_ROOT, c), os.W_OK) for c in ("memory", "pids")):
        return 1
    return None


class RunCgroup:
    """One run's group(s). Create with `create`, put the child in with `join_files`."""

    def __init__(self, version: int, dirs: dict[str, str] | None = None) -> None:
        self.version = version
        # hierarchy ("memory", "pids", ... or "unified") -> this run's group directory
        self.dirs: dict[str, str] = dirs if dirs is not None else {}

    @classmethod
    def create(cls, memory_bytes: int, max_pids: int, cpus: float = 1.0) -> RunCgroup:
        global _swept
        version = detect_version()
        if version is None:
            raise CgroupUnavailable(f"cannot write cgroups under {CGROUP_ROOT}")
        if not _swept:
            _swept = True
            sweep_dead_owners()
        name = f"run-{os.urandom(8).hex()}"
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
        owner = owner_name()
        for controller in V1_CONTROLLERS:
            base = os.path.join(CGROUP_ROOT, controller)
            if not os.path.isdir(base) or (controller == "cpuacct" and self._same_as_cpu(base)):
                continue
            path = os.path.join(base, parent_name(), owner, name)
            os.makedirs(path)
            self.dirs[controller] = path
        memory = self.dirs["memory"]
        _write(f"{memory}/memory.limit_in_bytes", str(memory_bytes))
        _write_if_supported(f"{memory}/memory.memsw.limit_in_bytes", str(memory_bytes))
        _write_if_supported(f"{memory}/memory.swappiness", "0")
        _write(f"{self.dirs['pids']}/pids.max", str(max_pids))
        if "cpu" in self.dirs:
            _write(f"{self.dirs['cpu']}/cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(f"{self.dirs['cpu']}/cpu.cfs_quota_us", str(int(CPU_PERIOD_US * cpus)))

    def _same_as_cpu(self, cpuacct: str) -> bool:
        cpu = os.path.join(CGROUP_ROOT, "cpu")
        return "cpu" in self.dirs and os.path.realpath(cpuacct) == os.path.realpath(cpu)

    def _create_v2(self, name: str, memory_bytes: int, max_pids: int, cpus: float) -> None:
        top = os.path.join(CGROUP_ROOT, parent_name())
        parent = os.path.join(top, owner_name())
        os.makedirs(parent, exist_ok=True)
        for level in (top, parent):
            _write_if_supported(f"{level}/cgroup.subtree_control", "+memory +pids +cpu")
        path = os.path.join(parent, name)
        os.mkdir(path)
        self.dirs["unified"] = path
        _write(f"{path}/memory.max", str(memory_bytes))
        _write_if_supported(f"{path}/memory.swap.max", "0")
        _write(f"{path}/pids.max", str(max_pids))
        _write_if_supported(f"{path}/cpu.max", f"{int(CPU_PERIOD_US * cpus)} {CPU_PERIOD_US}")

    def join_files(self) -> list[str]:
        """Files the (single-threaded) child writes "0", meaning itself, into before exec.

        On v1 that is `tasks`, not `cgroup.procs`: moving a whole thread group takes the
        kernel's global threadgroup lock, which waits for an RCU grace period (milliseconds,
        per run); moving only the calling thread skips it (Linux >= 5.19). The child is one
        thread, and everything it execs and forks afterwards starts in the groups.
        """
        name = "tasks" if self.version == 1 else "cgroup.procs"
        return [f"{path}/{name}" for path in self.dirs.values()]

    def oom_killed(self) -> bool:
        if self.version == 1:
            count = _read_keyed(f"{self.dirs['memory']}/memory.oom_control", "oom_kill")
        else:
            count = _read_keyed(f"{self.dirs['unified']}/memory.events", "oom_kill")
        return bool(count)

    def peak_memory_bytes(self) -> int | None:
        if self.version == 1:
            return _read_int(f"{self.dirs['memory']}/memory.max_usage_in_bytes")
        return _read_int(f"{self.dirs['unified']}/memory.peak")

    def cpu_time_ms(self) -> int | None:
        if self.version == 1:
            acct = self.dirs.get("cpuacct", self.dirs.get("cpu"))
            nanos = _read_int(f"{acct}/cpuacct.usage") if acct else None
            return None if nanos is None else nanos // 1_000_000
        micros = _read_keyed(f"{self.dirs['unified']}/cpu.stat", "usage_usec")
        return None if micros is None else micros // 1000

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            try:
                found.update(int(p) for p in _read(f"{path}/cgroup.procs").split())
            except OSError:
                continue
        return found

    def kill_all(self) -> None:
        """SIGKILL every process still in the group, until none is left."""
        unified = self.dirs.get("unified")
        kill_file = f"{unified}/cgroup.kill" if unified else None
        for attempt in range(200):
            remaining = self.pids()
            if not remaining:
                return
            if kill_file and os.path.exists(kill_file):
                _write_if_supported(kill_file, "1")
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            # Usually one short wait suffices (a process that just exited is still listed).
            time.sleep(0.001 if attempt < 5 else 0.005)

    def destroy(self) -> None:
        self.kill_all()
        for path in self.dirs.values():
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # exiting processes still leaving the group
            else:
                import warnings

                warnings.warn(f"could not remove cgroup {path}", RuntimeWarning, stacklevel=2)


def own_oom_kills() -> int | None:
    """OOM kills so far in the cgroup this process is in, as the container sees it.

    Inside a pod the runtime mounts the container's own cgroup at /sys/fs/cgroup, so the
    runner can tell a kernel OOM kill of the program from any other SIGKILL.
    """
    v2 = _read_keyed(f"{CGROUP_ROOT}/memory.events", "oom_kill")
    if v2 is not None:
        return v2
    return _read_keyed(f"{CGROUP_ROOT}/memory/memory.oom_control", "oom_kill")


def own_peak_memory_bytes() -> int | None:
    """The highest memory charge of this process's cgroup since it was made (v2 memory.peak,
    v1 memory.max_usage_in_bytes). A pod cannot reset it: its cgroup is read-only."""
    return _read_int(f"{CGROUP_ROOT}/memory.peak") or _read_int(
        f"{CGROUP_ROOT}/memory/memory.max_usage_in_bytes"
    )


def own_memory_bytes() -> int | None:
    """The memory charged to this process's cgroup now: RSS, page cache, tmpfs files and
    kernel memory of every process in it (v2 memory.current, v1 memory.usage_in_bytes)."""
    v2 = _read_int(f"{CGROUP_ROOT}/memory.current")
    if v2 is not None:
        return v2
    return _read_int(f"{CGROUP_ROOT}/memory/memory.usage_in_bytes")


# v1 mounts cpu and cpuacct together; runtimes name the mount either way (and link the other).
V1_CPUACCT_DIRS = ("cpuacct", "cpu,cpuacct", "cpu")


def own_cpu_time_ns() -> int | None:
    """CPU time used so far by every process that was ever in this process's cgroup,
    including the ones that left it or died (v2 cpu.stat usage_usec, v1 cpuacct.usage)."""
    micros = _read_keyed(f"{CGROUP_ROOT}/cpu.stat", "usage_usec")
    if micros is not None:
        return micros * 1000
    for name in V1_CPUACCT_DIRS:
        nanos = _read_int(f"{CGROUP_ROOT}/{name}/cpuacct.usage")
        if nanos is not None:
            return nanos
    return None
