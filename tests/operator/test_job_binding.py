"""Hostile: someone with rights on CodeRuns (create, patch, status) tries to finish, and so
charge, another account's job. The API binds a job to the CodeRun it created, by name and
metadata.uid, so neither a label nor an object made by anyone else speaks for the job.

No operator runs in this namespace: the API's CodeRuns stay queued, and the only statuses
are the forged ones written here with kubectl, as such a user could.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coderun_operator import resources as r
from coderun_sandbox.contract import iso_utc, utc_now

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    ApiProcess,
    create_json,
    get_coderun,
    prepare_namespace,
    start_api,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

FORGED = "forged\n"
CREDITS = 5


@pytest.fixture
def unattended(k8s_cluster: K8sCluster, tmp_path: Path) -> Iterator[tuple[str, ApiProcess]]:
    """An API on the Kubernetes executor in a namespace that no operator watches."""
    namespace = prepare_namespace(k8s_cluster, prefix="coderun-bind")
    api = start_api(k8s_cluster, namespace, tmp_path / "data", tmp_path / "api.log")
    yield namespace, api
    api.stop()
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def claiming(namespace: str, name: str, job_id: str) -> dict[str, Any]:
    """A CodeRun that says, in every label the API ever set, that it is `job_id`'s."""
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {r.LABEL_JOB_ID: job_id, r.LABEL_CREATED_BY: "coderun-api"},
        },
        "spec": {"language": "python", "code": "print('forged')"},
    }


def forge_success(cluster: K8sCluster, namespace: str, name: str) -> None:
    """Write a final success into a CodeRun's status, as only the operator should."""
    now = iso_utc(utc_now())
    status = {
        "phase": "Succeeded",
        "verdict": "Success",
        "startedAt": now,
        "finishedAt": now,
        "conditions": [
            {
                "type": r.COND_SUCCEEDED,
                "status": "True",
                "reason": "Success",
                "message": "forged",
                "lastTransitionTime": now,
            }
        ],
        "result": {
            "status": "success",
            "stdout": FORGED,
            "stderr": "",
            "exitCode": 0,
            "sandboxErrorType": None,
            "sandboxErrorMessage": "",
            "executionTimeMs": 1,
            "startedAt": now,
            "finishedAt": now,
        },
    }
    cluster.kubectl(
        "patch",
        "crun",
        "-n",
        namespace,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def uncharged(api: ApiProcess, key: str) -> bool:
    account = api.account_info(key)
    return bool(account["credits"] == CREDITS and account["creditsUsed"] == 0)


def test_only_the_coderun_the_api_created_finishes_a_job(
    k8s_cluster: K8sCluster, unattended: tuple[str, ApiProcess]
) -> None:
    namespace, api = unattended
    victim, attacker = api.new_key(credits=CREDITS), api.new_key(credits=CREDITS)
    job_a = api.submit(victim, "print('mine')")
    job_b = api.submit(attacker, "print('theirs')")
    wait_until(
        lambda: (
            get_coderun(k8s_cluster, namespace, job_a)
            and get_coderun(k8s_cluster, namespace, job_b)
        ),
        "the API created both CodeRuns",
    )
    original = get_coderun(k8s_cluster, namespace, job_a)
    assert original is not None

    # 1. A CodeRun made with kubectl, labelled as A's job, with a success status.
    forged = f"forged-{uuid.uuid4().hex[:8]}"
    created = create_json(k8s_cluster, claiming(namespace, forged, job_a))
    assert created.returncode == 0, created.stderr
    forge_success(k8s_cluster, namespace, forged)
    # 2. The attacker's own CodeRun relabelled as A's job, then given a success.
    k8s_cluster.kubectl(
        "label", "crun", "-n", namespace, job_b, f"{r.LABEL_JOB_ID}={job_a}", "--overwrite"
    )
    forge_success(k8s_cluster, namespace, job_b)

    # B's own CodeRun (its name, its uid) does finish B: the watcher has seen every event up
    # to here, the two claims on A included.
    theirs = api.wait_final(attacker, job_b, rounds=4)
    assert (theirs["status"], theirs["stdout"]) == ("success", FORGED)
    mine = api.result(victim, job_a)
    assert mine["status"] == "queued", mine
    assert uncharged(api, victim)

    # 3. A's CodeRun deleted and re-created under the same name, with a success status.
    k8s_cluster.kubectl("delete", "crun", "-n", namespace, job_a, "--wait=true")
    created = create_json(k8s_cluster, claiming(namespace, job_a, job_a))
    assert created.returncode == 0, created.stderr
    forge_success(k8s_cluster, namespace, job_a)
    impostor = get_coderun(k8s_cluster, namespace, job_a)
    assert impostor is not None
    assert impostor["metadata"]["uid"] != original["metadata"]["uid"]

    # The API does not take its result: the job ends free, as the CodeRun it created is gone.
    mine = api.wait_final(victim, job_a, rounds=4)
    assert mine["status"] == "failed" and mine["sandboxErrorType"] == "InternalError", mine
    assert mine["stdout"] != FORGED
    assert uncharged(api, victim)
