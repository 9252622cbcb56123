"""A pool whose pods cannot pass their start: each failed pod is replaced and reported, and
runs fall back to the cold path, where the same fault is the run's honest verdict.

The fault is real: a namespace without the deny-all NetworkPolicy, so every sandbox
container's network gate fails closed (gate.py), as it would on a cluster whose policy
is missing or not enforced.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coderun_operator import resources as r

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    CRD_FILE,
    POOL_CRD_FILE,
    ApiProcess,
    apply_json,
    get_coderun,
    start_api,
    start_operator,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


@pytest.fixture
def unprotected(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path: Path
) -> Iterator[tuple[str, ApiProcess]]:
    """A restricted namespace with no NetworkPolicy, an operator with a short gate."""
    namespace = f"coderun-nopolicy-{uuid.uuid4().hex[:8]}"
    k8s_cluster.kubectl("apply", "-f", str(CRD_FILE), "-f", str(POOL_CRD_FILE))
    k8s_cluster.kubectl("create", "namespace", namespace)
    k8s_cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    operator = start_operator(
        k8s_cluster,
        namespace,
        tmp_path / "operator.log",
        network_gate_timeout_seconds="3",
        start_grace_seconds="20",
    )
    api = start_api(k8s_cluster, namespace, tmp_path / "data", tmp_path / "api.log")
    yield namespace, api
    api.stop()
    operator.stop()
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _events(cluster: K8sCluster, namespace: str) -> list[dict[str, Any]]:
    listed = cluster.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.kind=CodeRunPool,involvedObject.name=python",
        "-o",
        "json",
    ).stdout
    items: list[dict[str, Any]] = json.loads(listed)["items"]
    return items


def test_pods_failing_their_gate_are_replaced_reported_and_runs_go_cold(
    k8s_cluster: K8sCluster, unprotected: tuple[str, ApiProcess]
) -> None:
    namespace, api = unprotected
    apply_json(
        k8s_cluster,
        {
            "apiVersion": r.API_VERSION,
            "kind": r.POOL_KIND,
            "metadata": {"name": "python", "namespace": namespace},
            "spec": {"language": "python", "replicas": 1},
        },
    )

    def reported() -> list[dict[str, Any]]:
        return [e for e in _events(k8s_cluster, namespace) if e["reason"] == "PodFailed"]

    failed = wait_until(reported, "a PodFailed Event on the pool", rounds=600, pause=0.3)
    assert "not locked down" in failed[0]["message"], failed[0]

    def condition() -> dict[str, Any] | None:
        found: dict[str, Any] = json.loads(
            k8s_cluster.kubectl("get", "crpool", "-n", namespace, "python", "-o", "json").stdout
        )
        ready = {c["type"]: c for c in (found.get("status") or {}).get("conditions") or []}
        if ready.get("Ready", {}).get("reason") == "PodsFailing":
            return found
        return None

    pool = wait_until(condition, "the pool's Ready condition says PodsFailing", rounds=300)
    assert pool["status"]["ready"] == 0

    # Replaced: another pool Job is made after the failed one.
    def replaced() -> bool:
        jobs = k8s_cluster.kubectl(
            "get", "jobs", "-n", namespace, "-l", f"{r.LABEL_POOL}=python", "-o", "name"
        ).stdout.split()
        failed_job = failed[0]["message"].split()[2].rsplit("-", 1)[0]  # "pool pod <pod> ..."
        return any(failed_job not in job for job in jobs)

    wait_until(replaced, "a replacement pool Job", rounds=300, pause=0.3)
    # No ready pod: the run starts cold, where the gate fails closed again and says why.
    key = api.new_key(credits=5)
    data = api.run(key, "print('must not run')\n")
    assert data["status"] == "failed", data
    assert data["sandboxErrorType"] == "SandboxError", data
    assert "not locked down" in data["sandboxErrorMessage"], data
    assert data["stdout"] == ""
    body = get_coderun(k8s_cluster, namespace, data["jobId"])
    assert body is not None and body["status"]["start"] == "cold", body
    assert api.account_info(key)["credits"] == 5
