"""Two API processes on one PostgreSQL database watch the same CodeRuns: each run is
finalized by whichever sees it first and charged exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import ApiProcess, OperatorProcess, start_api

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

RUNS = 6


@pytest.fixture
def two_apis(
    k8s_cluster: K8sCluster,
    op_namespace: str,
    operator: OperatorProcess,
    postgres_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ApiProcess, ApiProcess]]:
    base = tmp_path_factory.mktemp("replicas")
    db = {"CODERUN_DATABASE_URL": postgres_database}
    first = start_api(
        k8s_cluster, op_namespace, base / "a", base / "a.log", CODERUN_AUTO_MIGRATE="true", **db
    )
    second = start_api(
        k8s_cluster, op_namespace, base / "b", base / "b.log", CODERUN_AUTO_MIGRATE="false", **db
    )
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_two_api_replicas_charge_each_success_once(two_apis: tuple[ApiProcess, ApiProcess]) -> None:
    first, second = two_apis
    key = first.new_key(credits=50)
    job_ids = [(first if i % 2 else second).submit(key, f"print({i})\n") for i in range(RUNS)]
    for i, job_id in enumerate(job_ids):
        # Each replica serves every result from the shared database.
        for api in (first, second):
            data = api.wait_final(key, job_id)
            assert data["status"] == "success", data
            assert data["stdout"] == f"{i}\n"
    assert first.account_info(key)["credits"] == 50 - RUNS
    assert second.account_info(key)["credits"] == 50 - RUNS
