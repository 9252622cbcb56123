"""Warm pools on the real cluster, through the REST API: CodeRunPools keep single-use sandbox
pods ready; a run claims one (start "warm") or, with none ready, starts cold.

One namespace, operator and API for the module, with a pool of one pod per language. Tests
that change a pool's size put it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from coderun_operator import resources as r

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    ApiProcess,
    OperatorProcess,
    apply_json,
    create_json,
    get_coderun,
    prepare_namespace,
    start_api,
    start_operator,
    wait_coderun_final,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

HELLO = {
    "python": "print('Hello, World!')\n",
    "javascript": "console.log('Hello, World!');\n",
    "cpp": '#include <iostream>\nint main() { std::cout << "Hello, World!" << std::endl; }\n',
    "java": 'public class Main {\n  public static void main(String[] a) {\n    System.out.println("Hello, World!");\n  }\n}\n',
}
LANGUAGES = list(HELLO)


@dataclass
class Pooled:
    cluster: K8sCluster
    namespace: str
    operator: OperatorProcess
    api: ApiProcess
    key: str

    def kubectl(self, *args: str, check: bool = True) -> str:
        return self.cluster.kubectl(*args, "-n", self.namespace, check=check).stdout

    def pool(self, language: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", "crpool", language, "-o", "json"))
        return found

    def set_pool(self, language: str, replicas: int, max_idle: int = 600) -> None:
        apply_json(self.cluster, pool_manifest(self.namespace, language, replicas, max_idle))

    def idle_pods(self, language: str) -> list[dict[str, Any]]:
        selector = f"{r.LABEL_POOL}={language},{r.LABEL_WARM}={r.WARM_IDLE}"
        listed = json.loads(self.kubectl("get", "pods", "-l", selector, "-o", "json"))
        return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]

    def wait_ready(self, language: str, count: int) -> list[dict[str, Any]]:
        """Until the pool has exactly `count` idle pods, every one ready."""

        def ready() -> list[dict[str, Any]] | None:
            pods = self.idle_pods(language)
            status = self.pool(language).get("status") or {}
            all_ready = all(
                all(c.get("started") for c in p["status"].get("containerStatuses") or [{}])
                for p in pods
            )
            if len(pods) == count and all_ready and status.get("ready") == count:
                return pods
            return None

        found: list[dict[str, Any]] = wait_until(
            ready, f"pool {language}: {count} ready", rounds=900, pause=0.3
        )
        return found

    def coderun(self, job_id: str) -> dict[str, Any]:
        body = get_coderun(self.cluster, self.namespace, job_id)
        assert body is not None, job_id
        return body


def pool_manifest(namespace: str, language: str, replicas: int, max_idle: int) -> dict[str, Any]:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.POOL_KIND,
        "metadata": {"name": language, "namespace": namespace},
        "spec": {"language": language, "replicas": replicas, "maxIdleSeconds": max_idle},
    }


@pytest.fixture(scope="module")
def pooled(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pooled]:
    namespace = prepare_namespace(k8s_cluster, prefix="coderun-pool")
    base = tmp_path_factory.mktemp("pools")
    operator = start_operator(
        k8s_cluster,
        namespace,
        base / "operator.log",
        max_concurrent_runs="4",
        max_running_per_account="4",
        start_grace_seconds="30",
    )
    api = start_api(k8s_cluster, namespace, base / "data", base / "api.log")
    found = Pooled(k8s_cluster, namespace, operator, api, api.new_key(credits=10_000))
    for language in LANGUAGES:
        found.set_pool(language, 1)
    for language in LANGUAGES:
        found.wait_ready(language, 1)
    yield found
    api.stop()
    operator.stop()
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _warm_pod_of(pooled: Pooled, job_id: str) -> str:
    status = pooled.coderun(job_id)["status"]
    assert status["start"] == "warm", status
    pod: str = status["podName"]
    assert pod.startswith(r.POOL_JOB_PREFIX), status
    return pod


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_warm_run_in_each_pooled_language(pooled: Pooled, language: str) -> None:
    before = pooled.wait_ready(language, 1)
    claimed_before = int((pooled.pool(language).get("status") or {}).get("claimed") or 0)
    data = pooled.api.run(pooled.key, HELLO[language], language)
    assert data["status"] == "success", data
    assert data["stdout"] == "Hello, World!\n"
    pod = _warm_pod_of(pooled, data["jobId"])
    assert pod == before[0]["metadata"]["name"]
    # The claimed Job is the run's now: owned by the CodeRun, no longer by the pool.
    job = json.loads(pooled.kubectl("get", "job", "-l", f"{r.LABEL_CLAIMED_BY}", "-o", "json"))
    (mine,) = [j for j in job["items"] if pod.startswith(j["metadata"]["name"])]
    (owner,) = mine["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CodeRun", data["jobId"])
    # Refilled: a new pod, ready, and the claim counted.
    (after,) = pooled.wait_ready(language, 1)
    assert after["metadata"]["name"] != pod
    assert int(pooled.pool(language)["status"]["claimed"]) >= claimed_before + 1
    if language in ("cpp", "java"):
        assert data["compileTimeMs"] is not None and data["compileTimeMs"] > 0, data


def test_kubectl_get_shows_start_and_pool_columns(pooled: Pooled) -> None:
    pooled.wait_ready("python", 1)
    data = pooled.api.run(pooled.key, HELLO["python"])
    table = pooled.kubectl("get", "crun", data["jobId"])
    header, row = table.splitlines()
    assert "START" in header.split() and "warm" in row.split(), table
    pools = pooled.kubectl("get", "crpool", "python")
    assert pools.splitlines()[0].split()[:6] == [
        "NAME",
        "LANGUAGE",
        "DESIRED",
        "READY",
        "STARTING",
        "CLAIMED",
    ], pools


def test_custom_limits_go_cold_while_a_pod_is_ready(pooled: Pooled) -> None:
    (ready,) = pooled.wait_ready("python", 1)
    name = f"custom-{time.monotonic_ns()}"
    manifest = {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {"name": name, "namespace": pooled.namespace},
        "spec": {"language": "python", "code": "print('own limits')", "timeLimitMs": 2000},
    }
    created = create_json(pooled.cluster, manifest)
    assert created.returncode == 0, created.stderr
    body = wait_coderun_final(pooled.cluster, pooled.namespace, name)
    assert body["status"]["verdict"] == "Success", body["status"]
    assert body["status"]["start"] == "cold"
    assert body["status"]["jobName"] == r.job_name(name)
    # The ready pod was not taken.
    assert ready["metadata"]["name"] in [p["metadata"]["name"] for p in pooled.idle_pods("python")]
