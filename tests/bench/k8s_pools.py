"""Warm pools for the Kubernetes benchmark: CodeRunPool objects made, scaled and waited on
with kubectl, and whether the cluster and the operator have them at all (before issue 13's
operator the benchmark still runs, and its warm columns say "no pool")."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import apply_json, wait_until

POOL_CRD = "coderunpools.coderun.dev"
API_VERSION = "coderun.dev/v1alpha1"


def crd_installed(cluster: K8sCluster) -> bool:
    return cluster.kubectl("get", "crd", POOL_CRD, check=False).returncode == 0


def pool_status(cluster: K8sCluster, namespace: str, language: str) -> dict[str, Any]:
    """The pool's status; {} while the operator has not reported on its latest spec."""
    out = cluster.kubectl("get", "crpool", "-n", namespace, language, "-o", "json", check=False)
    if out.returncode != 0:
        return {}
    body = json.loads(out.stdout)
    status: dict[str, Any] = body.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is not None and observed < body["metadata"].get("generation", 0):
        return {}
    return status


def set_pool(cluster: K8sCluster, namespace: str, language: str, replicas: int) -> None:
    """Create the language's pool, or change its size (kubectl apply: both the same)."""
    apply_json(
        cluster,
        {
            "apiVersion": API_VERSION,
            "kind": "CodeRunPool",
            "metadata": {"name": language, "namespace": namespace},
            "spec": {"language": language, "replicas": replicas, "maxIdleSeconds": 3600},
        },
    )


def wait_ready(
    cluster: K8sCluster, namespace: str, language: str, replicas: int, rounds: int = 600
) -> None:
    """Until the pool has exactly `replicas` ready idle pods and none starting (a scale down
    included: then its surplus pods are gone)."""

    def settled() -> bool:
        status = pool_status(cluster, namespace, language)
        return (
            bool(status)
            and status.get("ready", 0) == replicas
            and status.get("replicas", 0) == replicas
            and not status.get("starting")
        )

    wait_until(settled, f"pool {language} at {replicas} ready", rounds=rounds, pause=0.2)


def pools_work(cluster: K8sCluster, namespace: str, language: str) -> str | None:
    """None when a pool of the language gets a ready pod; else why not (the warm columns'
    "no pool" reason)."""
    if not crd_installed(cluster):
        return f"no pool: the CRD {POOL_CRD} is not installed"
    set_pool(cluster, namespace, language, 1)
    try:
        wait_ready(cluster, namespace, language, 1, rounds=450)
    except AssertionError:
        status = pool_status(cluster, namespace, language)
        return f"no pool: the operator made no ready pod in 90 s (status {status})"
    return None


def starts(cluster: K8sCluster, namespace: str) -> dict[str, dict[str, Any]]:
    """name -> status of every CodeRun in the namespace (its `start`: warm or cold)."""
    out = cluster.kubectl("get", "crun", "-n", namespace, "-o", "json", timeout=120).stdout
    return {item["metadata"]["name"]: item.get("status") or {} for item in json.loads(out)["items"]}
