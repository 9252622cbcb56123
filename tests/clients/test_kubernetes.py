"""The Python client against an API on the Kubernetes executor: the operator and `coderun
serve` as real processes, sandbox pods on the real test cluster (tests/operator/harness.py).
The client must not care which executor ran the job: the same verdicts, the same fields."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from coderun_client import AsyncClient, Client, Job

from tests.fixtures.cluster import K8sCluster
from tests.operator.conftest import sandbox_images  # noqa: F401  (a fixture, used by name)
from tests.operator.harness import (
    ApiProcess,
    get_coderun,
    prepare_namespace,
    start_api,
    start_operator,
)

# The first cluster test of a session may build the sandbox images (sandbox_images).
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def kubernetes_api(
    k8s_cluster: K8sCluster,
    sandbox_images: None,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ApiProcess, str]]:
    base: Path = tmp_path_factory.mktemp("clients-k8s")
    namespace = prepare_namespace(k8s_cluster, prefix="coderun-clients")
    operator = start_operator(k8s_cluster, namespace, base / "operator.log")
    api = start_api(k8s_cluster, namespace, base / "data", base / "api.log")
    try:
        yield api, namespace
    finally:
        api.stop()
        operator.stop()
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_python_client_runs_on_kubernetes(
    k8s_cluster: K8sCluster, kubernetes_api: tuple[ApiProcess, str]
) -> None:
    api, namespace = kubernetes_api
    key = api.new_key()
    with Client(base_url=api.base_url, api_key=key) as client:
        job = client.run("print(input()[::-1])", "python", input="olleh")
        assert (job.status, job.stdout, job.exit_code) == ("success", "hello\n", 0)
        assert job.total_time_ms == job.queue_time_ms + job.execution_time_ms  # type: ignore[operator]
        broken = client.run("int main( {", "cpp")
        assert (broken.status, broken.sandbox_error_type) == ("failed", "CompilationError")
        spin = client.run("while True: pass", "python")
        assert spin.sandbox_error_type == "TLE"
        assert client.account().credits_used == 1
    # it really ran as a CodeRun on the cluster, named by the job id
    coderun = get_coderun(k8s_cluster, namespace, job.job_id)
    assert coderun is not None and coderun["status"]["phase"] == "Succeeded", coderun

    async def twin() -> Job:
        async with AsyncClient(base_url=api.base_url, api_key=key) as client:
            return await client.run("print(6 * 7)", "python")

    js = asyncio.run(twin())
    assert (js.status, js.stdout) == ("success", "42\n"), (
        js.sandbox_error_type,
        js.sandbox_error_message,
        js.exit_code,
        js.stderr,
    )
