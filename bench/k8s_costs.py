"""What a run costs the cluster, for the Kubernetes benchmark: the API server's write
requests, the CPU time of the node's processes, and the operator's CPU, memory and threads.

- Writes: `apiserver_request_total` (the API server's own metric) summed over the verbs POST,
  PUT, PATCH and DELETE. It counts every client's writes, so another session's tests on the
  same cluster show up in it; `WriteCounter` also keeps the counts per resource.
- CPU: utime + stime (+ cutime + cstime, the children it waited for) from /proc/<pid>/stat of
  the cluster's processes, whose pids `hack/cluster/cluster.sh` keeps in
  $CODERUN_CLUSTER_STATE/run/<name>.pid, and of the operator process the benchmark started.
  The containerd shims (one per pod, which also reap the pod's own processes) live and die
  with the pods: `ShimSampler` polls them and keeps the last figure each one showed.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixtures.cluster import K8sCluster

WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")
CLUSTER_STATE = Path(os.environ.get("CODERUN_CLUSTER_STATE", "/var/lib/coderun-cluster"))
# The processes whose CPU the issue asks for, with the operator (added by the caller).
NODE_PROCESSES = ("kubelet", "containerd", "kube-apiserver")
# Also reported, apart: the rest of the control plane.
OTHER_PROCESSES = ("etcd", "kube-controller-manager", "kube-scheduler", "kube-router")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def cluster_pid(name: str) -> int | None:
    """The pid cluster.sh recorded for one of its processes, if it runs."""
    try:
        pid = int((CLUSTER_STATE / "run" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of the children it has waited for; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = text.rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def status_of(pid: int) -> dict[str, int]:
    """VmRSS (kB) and Threads from /proc/<pid>/status."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def _shim_pids(containerd_sock: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and argv[0].endswith(b"containerd-shim-runc-v2")
            and (str(containerd_sock).encode() in argv)
        ):
            pids.append(int(entry.name))
    return pids


@dataclass
class ShimSampler:
    """CPU seconds of the containerd shims over a window: each shim's last reading, polled,
    so a shim that exits within the window still counts (up to its last poll)."""

    containerd_sock: Path
    interval: float = 0.5
    _start: dict[int, float] = field(default_factory=dict)
    _last: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _poll(self) -> None:
        for pid in _shim_pids(self.containerd_sock):
            value = cpu_seconds(pid)
            if value:
                self._last[pid] = max(value, self._last.get(pid, 0.0))

    def start(self) -> None:
        for pid in _shim_pids(self.containerd_sock):
            self._start[pid] = cpu_seconds(pid)
        self._last = dict(self._start)

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self._poll()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._poll()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return sum(value - self._start.get(pid, 0.0) for pid, value in self._last.items())


@dataclass
class CpuMeter:
    """CPU seconds of named processes between `start()` and `stop()`."""

    pids: dict[str, int]
    _before: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_cluster(cls, operator_pid: int | None, api_pid: int | None) -> CpuMeter:
        """The cluster's processes, and our operator and API where they run (None: not)."""
        ours = {"operator": operator_pid, "API (coderun serve)": api_pid}
        pids = {name: pid for name, pid in ours.items() if pid is not None}
        for name in (*NODE_PROCESSES, *OTHER_PROCESSES):
            pid = cluster_pid(name)
            if pid is not None:
                pids[name] = pid
        return cls(pids)

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._before[name] for name, pid in self.pids.items()}


def issue_total(cpu: dict[str, float]) -> float:
    """kubelet + containerd + kube-apiserver + operator: the sum the issue asks for."""
    return sum(cpu.get(name, 0.0) for name in (*NODE_PROCESSES, "operator"))


def _write_counts(cluster: K8sCluster) -> Counter[str]:
    text = cluster.kubectl("get", "--raw", "/metrics", timeout=60).stdout
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition(" ")
        labels = dict(_LABEL.findall(labels_text))
        if labels.get("verb") in WRITE_VERBS:
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            counts[resource] += int(float(value))
    return counts


@dataclass
class WriteCounter:
    """The API server's write requests between `start()` and `stop()`, per resource."""

    cluster: K8sCluster
    _before: Counter[str] = field(default_factory=Counter)

    def start(self) -> None:
        self._before = _write_counts(self.cluster)

    def stop(self) -> Counter[str]:
        after = _write_counts(self.cluster)
        after.subtract(self._before)
        return +after  # drops zero and negative entries


@dataclass
class Costs:
    """Writes and CPU of one measured phase."""

    runs: int
    seconds: float
    writes: Counter[str]
    cpu: dict[str, float]
    shims: float

    @property
    def writes_per_run(self) -> float:
        return sum(self.writes.values()) / max(1, self.runs)

    def cpu_per_run(self, name: str) -> float:
        return self.cpu.get(name, 0.0) / max(1, self.runs)


@dataclass
class CostMeter:
    """Writes, CPU and shim CPU together, over one phase."""

    cluster: K8sCluster
    operator_pid: int | None  # None: a phase without our operator (bench/k8s_floor.py)
    api_pid: int | None
    _writes: WriteCounter | None = None
    _cpu: CpuMeter | None = None
    _shims: ShimSampler | None = None
    _started: float = 0.0

    def start(self) -> None:
        self._writes = WriteCounter(self.cluster)
        self._writes.start()
        self._cpu = CpuMeter.for_cluster(self.operator_pid, self.api_pid)
        self._shims = ShimSampler(self.cluster.containerd_sock)
        self._shims.start()
        self._cpu.start()
        self._started = time.monotonic()

    def stop(self, runs: int) -> Costs:
        assert self._writes and self._cpu and self._shims
        seconds = time.monotonic() - self._started
        cpu = self._cpu.stop()
        shims = self._shims.stop()
        return Costs(runs, seconds, self._writes.stop(), cpu, shims)


def add(costs: list[Costs]) -> Costs:
    """Several phases of the same kind (interleaved blocks) as one."""
    writes: Counter[str] = Counter()
    cpu: dict[str, float] = {}
    for item in costs:
        writes.update(item.writes)
        for name, value in item.cpu.items():
            cpu[name] = cpu.get(name, 0.0) + value
    return Costs(
        runs=sum(c.runs for c in costs),
        seconds=sum(c.seconds for c in costs),
        writes=writes,
        cpu=cpu,
        shims=sum(c.shims for c in costs),
    )
