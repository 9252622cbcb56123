"""A job that got a 200 is never lost: the API process is killed mid-run and restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import MakeApi
from tests.api.server import Server
from tests.fixtures.environment import migrating_serve_env, serve_env

SLOW = "import time\ntime.sleep(1.5)\nprint('survived')\n"


@pytest.fixture
def server_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return migrating_serve_env(tmp_path / "data", database_url, CODERUN_JOB_LEASE_SECONDS="1")


@pytest.fixture
def server(server_env: dict[str, str]) -> Iterator[Server]:
    server = Server(server_env)
    yield server
    server.stop()


def submit_and_crash(server: Server) -> tuple[str, str]:
    key = server.cli("account", "create", "crash@example.com", "--credits", "3")
    server.start()
    response = httpx.post(
        server.base + "/api/v1/runner/submit",
        json={"code": SLOW, "language": "python", "input": ""},
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 200
    job_id = response.json()["data"]["jobId"]
    for _ in range(200):
        if server.get(f"/api/v1/runner/{job_id}/result", key)["status"] == "running":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the job never started")
    server.kill()
    return key, job_id


def wait_final(server: Server, key: str, job_id: str) -> dict[str, Any]:
    for _ in range(10):
        data = server.get(f"/api/v1/runner/{job_id}/result?wait=30", key)
        if data["status"] in ("success", "failed"):
            return data
    raise AssertionError("job stayed unfinished after the restart")


def test_job_running_at_a_crash_is_rerun_after_restart(server: Server) -> None:
    key, job_id = submit_and_crash(server)
    server.start()
    data = wait_final(server, key, job_id)
    assert (data["status"], data["stdout"]) == ("success", "survived\n")
    account = server.get("/api/v1/account", key)
    assert (account["credits"], account["creditsUsed"]) == (2, 1)


def test_job_out_of_attempts_ends_as_internal_error_not_running(
    server: Server, server_env: dict[str, str]
) -> None:
    server_env["CODERUN_MAX_ATTEMPTS"] = "1"
    key, job_id = submit_and_crash(server)
    server.start()
    data = wait_final(server, key, job_id)
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "InternalError")
    assert "not charged" in data["sandboxErrorMessage"]
    assert server.get("/api/v1/account", key)["credits"] == 3


@pytest.mark.postgres
def test_db_upgrade_then_account_create_on_postgres(postgres_database: str, tmp_path: Path) -> None:
    """The production path: migrations by `coderun db upgrade`, not on start."""
    server = Server(serve_env(tmp_path, CODERUN_DATABASE_URL=postgres_database))
    server.cli("db", "upgrade")
    key = server.cli("account", "create", "pg@example.com", "--credits", "7", "--early")
    assert key.startswith("nr_live_")
    server.start()
    try:
        account = server.get("/api/v1/account", key)
        assert (account["credits"], account["early"]) == (7, True)
        assert server.get("/readyz", key) == {"database": "ok"}
    finally:
        server.stop()
    import psycopg

    with psycopg.connect(postgres_database.replace("+psycopg", "")) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    from alembic.script import ScriptDirectory
    from coderun_api.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(postgres_database)).get_current_head()
    assert version is not None and version[0] == head


def test_clean_shutdown_leaves_queued_jobs_to_the_next_process(
    make_api: MakeApi, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'shutdown.db'}"
    first = make_api(database_url=database, local_workers=1)
    account_id, key = first.new_account(credits=5)
    job_ids = [
        first.submit(key, f"import time\ntime.sleep(0.3)\nprint({i})").json()["data"]["jobId"]
        for i in range(3)
    ]
    first.client.__exit__(None, None, None)  # lifespan shutdown: a clean stop
    second = make_api(database_url=database)
    outputs = [second.wait_final(key, job_id)["stdout"] for job_id in job_ids]
    assert outputs == ["0\n", "1\n", "2\n"]
    assert second.account(account_id).credits_used == 3


def test_a_job_whose_finalize_keeps_failing_is_recovered_not_left_running(
    make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAKE fault, on purpose: the database refusing every write of one result cannot be
    caused on demand, so JobStore.finalize raises for the first run's attempts. The run itself
    is real, and so is the recovery: the lease lapses and the job is run again."""
    from coderun_api.executors.local import LocalExecutor
    from coderun_api.jobs import JobStore

    real_finalize = JobStore.finalize
    failures = {"left": LocalExecutor.finalize_attempts}

    def flaky_finalize(self: JobStore, job_id: str, result: Any) -> bool:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("injected: database unavailable")
        return real_finalize(self, job_id, result)

    monkeypatch.setattr(JobStore, "finalize", flaky_finalize)
    monkeypatch.setattr(LocalExecutor, "finalize_first_delay_seconds", 0.01)
    api = make_api(job_lease_seconds=0.6)
    account_id, key = api.new_account(credits=2)
    data = api.run(key, "print('again')")
    assert (data["status"], data["stdout"]) == ("success", "again\n")
    assert failures["left"] == 0
    assert api.job(data["jobId"]).attempts == 2
    assert api.account(account_id).credits_used == 1


def test_a_job_the_executor_never_received_still_runs(
    make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAKE fault, on purpose: the hand-over to the executor fails once (as a Kubernetes API
    outage would). The client still gets 200 and the job, recovered by its lease, runs."""
    from coderun_api.executors.local import LocalExecutor

    real_submit = LocalExecutor.submit
    dropped: list[str] = []

    def drop_first(self: LocalExecutor, job_id: str) -> None:
        if not dropped:
            dropped.append(job_id)
            raise RuntimeError("injected: executor unavailable")
        real_submit(self, job_id)

    monkeypatch.setattr(LocalExecutor, "submit", drop_first)
    api = make_api(job_lease_seconds=0.6)
    _, key = api.new_account()
    response = api.submit(key, "print('recovered')")
    assert response.status_code == 200
    assert dropped == [response.json()["data"]["jobId"]]
    data = api.wait_final(key, dropped[0])
    assert (data["status"], data["stdout"]) == ("success", "recovered\n")


def test_many_long_polls_do_not_exhaust_the_database_pool(server: Server) -> None:
    """More concurrent `?wait` readers than the pool has connections (10 + 10 overflow):
    each must get its answer, none a 500, because waiting holds no connection."""
    server.start()
    key = server.cli("account", "create", "polls@example.com")
    submitted = httpx.post(
        server.base + "/api/v1/runner/submit",
        headers={"X-API-KEY": key},
        json={
            "language": "python",
            "code": "import time\ntime.sleep(2)\nprint('done')",
            "input": "",
        },
        timeout=30,
    ).json()["data"]["jobId"]

    def poll(_: int) -> tuple[int, str]:
        response = httpx.get(
            f"{server.base}/api/v1/runner/{submitted}/result",
            params={"wait": "20"},
            headers={"X-API-KEY": key},
            timeout=40,
        )
        return response.status_code, response.json()["data"]["status"]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(poll, range(40)))
    assert answers == [(200, "success")] * 40
