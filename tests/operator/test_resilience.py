"""The operator killed mid-run comes back and finishes the run; 20 concurrent submissions
all complete, never more than the cap at once (the order is unit-tested: test_admission)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    MAX_CONCURRENT,
    ApiProcess,
    OperatorProcess,
    get_coderun,
    wait_until,
)

pytestmark = pytest.mark.cluster


def test_operator_killed_mid_run_still_finishes_it(
    k8s_cluster: K8sCluster, op_namespace: str, operator: OperatorProcess, api: ApiProcess
) -> None:
    key = api.new_key(credits=5)
    job_id = api.submit(key, "import time\ntime.sleep(2.5)\nprint('survived')\n")

    def running() -> bool:
        body = get_coderun(k8s_cluster, op_namespace, job_id)
        return bool(body) and (body.get("status") or {}).get("phase") == "Running"  # type: ignore[union-attr]

    wait_until(running, "CodeRun Running", rounds=1200, pause=0.1)
    operator.kill()

    # The run goes on without the operator; wait for its pod to end.
    def pod_ended() -> bool:
        out = k8s_cluster.kubectl(
            "get",
            "pods",
            "-n",
            op_namespace,
            "-l",
            f"coderun.dev/run=crun-{job_id}",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ).stdout
        return out.strip() in ("Succeeded", "Failed")

    wait_until(pod_ended, "sandbox pod ended", rounds=600, pause=0.25)
    assert api.result(key, job_id)["status"] == "running"

    operator.restart()
    data = api.wait_final(key, job_id)
    assert data["status"] == "success", data
    assert data["stdout"] == "survived\n"
    assert api.account_info(key)["credits"] == 4


def test_twenty_concurrent_submissions_all_complete(
    k8s_cluster: K8sCluster, op_namespace: str, operator: OperatorProcess, api: ApiProcess
) -> None:
    key = api.new_key(credits=100)
    programs = [f"print({i} * {i})\n" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        job_ids = list(pool.map(lambda code: api.submit(key, code), programs))
    # Fewer waiters than submitters: each `?wait=30` long-poll holds one of the API's
    # database connections for its whole wait (reported to the API's owner).
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda job_id: api.wait_final(key, job_id), job_ids))
    for i, data in enumerate(results):
        assert data["status"] == "success", data
        assert data["stdout"] == f"{i * i}\n"
    assert api.account_info(key)["credits"] == 80

    # From the CodeRuns' own status: never more than the cap had a Job at once.
    bodies = [get_coderun(k8s_cluster, op_namespace, job_id) for job_id in job_ids]
    windows = sorted(
        (b["status"]["scheduledAt"], b["status"]["finishedAt"]) for b in bodies if b is not None
    )
    assert len(windows) == 20
    for start, _ in windows:
        overlapping = sum(1 for s, f in windows if s <= start < f)
        assert overlapping <= MAX_CONCURRENT, json.dumps(windows)
