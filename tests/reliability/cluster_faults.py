"""Causing the cluster-side faults and watching the cluster while they last.

A component is restarted only through `cluster.sh restart`, which stops the process named by
the cluster's own pid file and starts it with its usual flags; pods keep running.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from tests.fixtures.cluster import K8sCluster
from tests.reliability.ledger import bounded

COMPONENTS = ("kube-apiserver", "kubelet", "containerd")


def restart_component(cluster: K8sCluster, component: str) -> None:
    """Stop `component` and start it again; returns once it serves (the node Ready again
    after a kubelet or containerd restart)."""
    assert component in COMPONENTS, component
    done = subprocess.run(
        ["bash", str(cluster.script), "restart", component],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"cluster.sh restart {component}:\n{done.stderr[-3000:]}"


def cluster_healthy(cluster: K8sCluster) -> bool:
    """`cluster.sh status`: every process runs and the node is Ready."""
    done = subprocess.run(
        ["bash", str(cluster.script), "status"], capture_output=True, timeout=120, check=False
    )
    return done.returncode == 0


def wait_cluster_healthy(cluster: K8sCluster) -> None:
    bounded(lambda: cluster_healthy(cluster), "cluster.sh status: all running, node Ready", 240)


def coderun_phases(cluster: K8sCluster, namespace: str) -> Counter[str]:
    """CodeRuns of the namespace by status.phase ("" for none yet); empty when unreadable."""
    out = cluster.kubectl("get", "crun", "-n", namespace, "-o", "json", check=False)
    if out.returncode != 0:
        return Counter()
    items = json.loads(out.stdout).get("items", [])
    return Counter(str((item.get("status") or {}).get("phase") or "") for item in items)


def all_coderuns_final(cluster: K8sCluster, namespace: str, count: int) -> bool:
    phases = coderun_phases(cluster, namespace)
    return phases["Succeeded"] + phases["Failed"] >= count


def _field_values(
    cluster: K8sCluster, namespace: str, kind: str, jsonpath: str, *selector: str
) -> list[str]:
    """What `jsonpath` picks from the namespace's objects of `kind` ([] when unreadable)."""
    out = cluster.kubectl(
        "get", kind, "-n", namespace, *selector, "-o", f"jsonpath={jsonpath}", check=False
    )
    return out.stdout.split()


def sandbox_pods_ended(cluster: K8sCluster, namespace: str) -> int:
    phases = _field_values(
        cluster, namespace, "pods", "{.items[*].status.phase}", "-l", "coderun.dev/sandbox=true"
    )
    return sum(1 for phase in phases if phase in ("Succeeded", "Failed"))


def peak_concurrency(cluster: K8sCluster, namespace: str) -> int:
    """The most CodeRuns that had a Job at one time, from their scheduledAt/finishedAt."""
    out = cluster.kubectl("get", "crun", "-n", namespace, "-o", "json")
    windows = [
        (status["scheduledAt"], status["finishedAt"])
        for item in json.loads(out.stdout).get("items", [])
        if (status := item.get("status") or {}).get("scheduledAt") and status.get("finishedAt")
    ]
    return max((sum(1 for s, f in windows if s <= start < f) for start, _ in windows), default=0)


def redelivered_runs(cluster: K8sCluster, namespace: str) -> int:
    """CodeRuns whose request was delivered again on a new pod (status.redeliveries)."""
    counts = _field_values(cluster, namespace, "coderuns", "{.items[*].status.redeliveries}")
    return sum(1 for count in counts if int(count) > 0)
