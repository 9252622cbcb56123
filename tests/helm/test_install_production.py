"""A production-shaped install: external PostgreSQL and Redis (the suite's real servers,
relayed to the node's address), two API replicas with a PodDisruptionBudget, migrations by
the chart's hook Job. A job submitted to one replica is answered by the other, and a
`helm upgrade` (which runs the migration hook again) keeps everything Ready."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.fixtures.services import PostgresServer
from tests.helm.conftest import CHART
from tests.helm.images import PROGRAMS
from tests.helm.install import INSTALL_TIMEOUT, ApiClient, Release, create_account, installed, ready
from tests.helm.relay import relayed

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def database_url(postgres_server: PostgresServer) -> str:
    """A fresh database on the suite's PostgreSQL (listening on 127.0.0.1)."""
    return postgres_server.create_database()


@pytest.fixture(scope="module")
def production(k8s_cluster: K8sCluster, database_url: str, redis_url: str) -> Iterator[Release]:
    database = urllib.parse.urlsplit(database_url)
    cache = urllib.parse.urlsplit(redis_url)
    assert database.port is not None and cache.port is not None
    node = k8s_cluster.node_ip
    with relayed(node, database.port) as pg, relayed(node, cache.port) as redis:
        in_cluster_db = database._replace(netloc=f"{database.username}@{node}:{pg.port}")
        with installed(
            k8s_cluster,
            "coderun-prod",
            f"database.url={in_cluster_db.geturl()}",
            # A database index of its own: other tests flush the suite's Redis.
            f"redis.url=redis://{node}:{redis.port}/7",
            "api.replicaCount=2",
            "api.podDisruptionBudget.enabled=true",
        ) as release:
            yield release


def test_the_migration_hook_created_the_schema(production: Release, database_url: str) -> None:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version is not None and version[0]
    api = production.pods("api")[0]["spec"]["containers"][0]
    auto_migrate = {e["name"]: e.get("value") for e in api["env"]}["CODERUN_AUTO_MIGRATE"]
    assert auto_migrate == "false", "with an external database only the hook migrates"


def test_two_api_replicas_are_ready_behind_a_disruption_budget(production: Release) -> None:
    pods = production.pods("api")
    assert len(pods) == 2 and all(ready(p) for p in pods), production.diagnostics()
    pdb = production.cluster.kubectl(
        "-n", production.namespace, "get", "pdb", "-o", "jsonpath={.items[*].spec.minAvailable}"
    ).stdout
    assert pdb == "1"


def test_a_job_submitted_to_one_replica_is_answered_by_the_other(production: Release) -> None:
    """Shared PostgreSQL (the job) and Redis (the wake-up of the waiting request)."""
    key = create_account(production)
    first, second = (
        ApiClient(base=f"http://{p['status']['podIP']}:8000", key=key)
        for p in production.pods("api")
    )
    submitted = first.call(
        "POST",
        "/api/v1/runner/submit",
        {"language": "cpp", "code": PROGRAMS["cpp"], "input": "ok"},
    )
    job_id = submitted["data"]["jobId"]
    for _ in range(20):
        data = second.call("GET", f"/api/v1/runner/{job_id}/result?wait=30")["data"]
        if data["status"] not in ("queued", "running"):
            break
    assert data["status"] == "success", data
    assert data["stdout"] == "okok\n"


def test_helm_upgrade_runs_the_hook_and_stays_ready(production: Release) -> None:
    result = production.cluster.helm(
        "upgrade",
        production.name,
        str(CHART),
        "--namespace",
        production.namespace,
        "--reuse-values",
        "--set",
        "config.logLevel=DEBUG",
        "--wait",
        "--timeout",
        INSTALL_TIMEOUT,
        check=False,
        timeout=480,
    )
    assert result.returncode == 0, result.stdout + result.stderr + production.diagnostics()
    # The replaced pods may still be terminating: look at the live ones.
    pods = [p for p in production.pods("api") if "deletionTimestamp" not in p["metadata"]]
    assert pods and all(ready(p) for p in pods), production.diagnostics()
    levels = {
        e.get("value")
        for p in pods
        for e in p["spec"]["containers"][0]["env"]
        if e["name"] == "CODERUN_LOG_LEVEL"
    }
    assert levels == {"DEBUG"}, "the upgrade rolled the API pods"
