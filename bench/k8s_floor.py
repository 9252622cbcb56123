"""The node's floor for single-use pods: what a bare Job costs, with none of our code in it.

Each Job is the least a run could be: one container of the locally built base image
(coderun-base) running `true`, restricted like a sandbox (non-root, read-only root, no
token, all capabilities dropped), finished Jobs kept JOB_TTL_S. Closed-loop clients create
one, wait for it to succeed (one watch on the namespace's Jobs, so no polling reads), and
create the next, for FLOOR_S seconds. Reported: Jobs per second, and per Job the API
server's writes and the CPU seconds of the kubelet, containerd, kube-apiserver and the
containerd shims. One pod per run costs at least this, whatever the operator does, so
`cores / CPU-seconds per Job` bounds the runs per second this node can sustain.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.k8s_costs import NODE_PROCESSES, CostMeter, Costs
from tests.fixtures.cluster import K8sCluster

FLOOR_S = float(os.environ.get("CODERUN_BENCH_FLOOR_S", "60"))
FLOOR_CLIENTS = 8
JOB_TTL_S = 5
IMAGE = "coderun-base:bookworm"


def bare_job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"coderun.dev/bench": "floor"}},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": JOB_TTL_S,
            "template": {
                "metadata": {"labels": {"coderun.dev/bench": "floor"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "run",
                            "image": IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["true"],
                            "resources": {
                                "limits": {"cpu": "1", "memory": "256Mi"},
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


@dataclass
class Floor:
    costs: Costs  # over the clients' window and the TTL deletions after it
    seconds: float  # the clients' window alone
    failed: int

    @property
    def jobs(self) -> int:
        return self.costs.runs

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def node_cpu_per_job(self) -> float:
        """kubelet + containerd + kube-apiserver + shims: what every pod costs the node."""
        node = sum(self.costs.cpu_per_run(name) for name in NODE_PROCESSES)
        return node + self.costs.shims / max(1, self.jobs)


class _Finished:
    """One watch on the namespace's Jobs: an Event per Job, set once it ends."""

    def __init__(self, batch: Any, namespace: str) -> None:
        self.batch, self.namespace = batch, namespace
        self.events: dict[str, threading.Event] = {}
        self.failed: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def expect(self, name: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def _watch(self) -> None:
        from kubernetes import watch

        while not self.stop.is_set():
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                self.batch.list_namespaced_job, self.namespace, timeout_seconds=30
            )
            for event in stream:
                job = event["object"]
                status = job.status
                if status is None or not (status.succeeded or status.failed):
                    continue
                name = job.metadata.name
                if status.failed:
                    self.failed.add(name)
                self.expect(name).set()
                if self.stop.is_set():
                    return


def measure_floor(cluster: K8sCluster) -> Floor:
    from kubernetes import client

    # Plain dicts for bodies, as the operator sends them (the client serialises either).
    core: Any = client.CoreV1Api(cluster.api_client())
    batch: Any = client.BatchV1Api(cluster.api_client())
    namespace = f"coderun-floor-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    finished = _Finished(batch, namespace)
    finished.thread.start()
    try:
        # Warm-up: the image and the namespace's first pod are not what is measured.
        name = "warmup"
        done = finished.expect(name)
        batch.create_namespaced_job(namespace, bare_job(name))
        done.wait(120)
        meter = CostMeter(cluster, operator_pid=None, api_pid=None)
        meter.start()
        stop_at = time.monotonic() + FLOOR_S
        count = [0]
        lock = threading.Lock()

        def client_loop(number: int) -> None:
            while time.monotonic() < stop_at:
                job = f"bare-{number}-{uuid.uuid4().hex[:6]}"
                ended = finished.expect(job)
                batch.create_namespaced_job(namespace, bare_job(job))
                if ended.wait(120):
                    with lock:
                        count[0] += 1

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=FLOOR_CLIENTS) as executor:
            list(executor.map(client_loop, range(FLOOR_CLIENTS)))
        elapsed = time.monotonic() - started
        time.sleep(JOB_TTL_S + 2)  # their deletion (TTL) inside the phase, as for runs
        return Floor(meter.stop(count[0]), elapsed, len(finished.failed))
    finally:
        finished.stop.set()
        core.delete_namespace(namespace)


def floor_table(floor: Floor, cores: int) -> str:
    per = {name: floor.costs.cpu_per_run(name) for name in NODE_PROCESSES}
    ceiling = cores / floor.node_cpu_per_job if floor.node_cpu_per_job else 0.0
    return "\n".join(
        [
            "### The node's floor: bare Jobs, none of our code",
            "",
            f"{FLOOR_CLIENTS} closed-loop clients for {FLOOR_S:.0f} s, each creating a Job of "
            "one container (the base image, `true`, restricted like a sandbox) and waiting "
            "for it to succeed (bench/k8s_floor.py). Every single-use pod costs the node at "
            "least this, whatever the operator does.",
            "",
            "| Jobs | seconds | Jobs/s | failed | writes/Job | kubelet | containerd "
            "| kube-apiserver | shims | **node CPU-s/Job** | ceiling on this node (runs/s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {floor.jobs} | {floor.seconds:.1f} | {floor.jobs_per_second:.2f} | "
            f"{floor.failed} | {floor.costs.writes_per_run:.1f} | "
            f"{per['kubelet']:.3f} | {per['containerd']:.3f} | {per['kube-apiserver']:.3f} | "
            f"{floor.costs.shims / max(1, floor.jobs):.3f} | **{floor.node_cpu_per_job:.3f}** | "
            f"{ceiling:.2f} |",
            "",
            f"Ceiling = {cores} cores / node CPU-seconds per Job: the most single-use pods per "
            "second this node could start and finish if it did nothing else (no API, no "
            "operator, no program).",
            "",
        ]
    )
