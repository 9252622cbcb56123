"""With its own operator (short retention, a missing image for one language): finished
CodeRuns are deleted after the retention while the API keeps the history, and a sandbox
that cannot start ends as SandboxError after the grace period, its Job removed."""

from __future__ import annotations

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import Stack, get_coderun, wait_until
from tests.operator.stacks import stack_fixture

pytestmark = pytest.mark.cluster


setup = stack_fixture(
    "coderun-ret",
    retention_seconds="2",
    sweep_interval_seconds="0.2",
    start_grace_seconds="5",
    images='{"javascript": "coderun-sandbox-absent:dev"}',
    image_pull_policy="Never",  # never reach out to a registry from the tests
)


@pytest.fixture(scope="module")
def key(setup: Stack) -> str:
    return setup.api.new_key()


def test_finished_coderuns_are_deleted_after_the_retention_but_the_api_keeps_the_result(
    k8s_cluster: K8sCluster, setup: Stack, key: str
) -> None:
    job_id = setup.api.submit(key, "print('kept')\n")
    data = setup.api.wait_final(key, job_id)
    assert data["status"] == "success" and data["stdout"] == "kept\n"
    wait_until(
        lambda: get_coderun(k8s_cluster, setup.namespace, job_id) is None,
        "CodeRun deleted after the retention",
        rounds=600,
        pause=0.25,
    )
    again = setup.api.result(key, job_id)
    assert again["status"] == "success" and again["stdout"] == "kept\n"


def test_an_image_that_cannot_be_pulled_is_a_sandbox_error_after_the_grace_period(
    k8s_cluster: K8sCluster, setup: Stack, key: str
) -> None:
    before = setup.api.account_info(key)["credits"]
    data = setup.api.run(key, "console.log('never');\n", "javascript")
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "SandboxError", data
    assert "coderun-sandbox-absent:dev" in data["sandboxErrorMessage"]
    assert "cannot be pulled" in data["sandboxErrorMessage"]
    job_id = data["jobId"]

    def job_gone() -> bool:
        out = k8s_cluster.kubectl(
            "get", "job", "-n", setup.namespace, f"crun-{job_id}", check=False
        )
        return out.returncode != 0

    wait_until(job_gone, "the stuck Job removed", rounds=600, pause=0.25)
    assert setup.api.account_info(key)["credits"] == before
