"""The Kubernetes executor's watcher sees a CodeRun start while PostgreSQL is down: once the
database is back, the next sighting (the relist after the failed one) marks the job running.

The CodeRun is the object the watch would deliver, written here by hand: the fault under test
is the database's, which is real (a PostgreSQL server of this test's own, stopped)."""

from __future__ import annotations

import pytest
from coderun_api.executors.kubernetes import KubernetesExecutor
from coderun_operator import resources as r
from coderun_sandbox.contract import RunRequest, Status
from sqlalchemy.exc import OperationalError

from tests.api.conftest import MakeApi
from tests.fixtures.services import PostgresServer

pytestmark = pytest.mark.postgres


def test_a_start_seen_while_the_database_is_down_is_recorded_later(
    make_api: MakeApi, own_postgres: PostgresServer
) -> None:
    api = make_api(database_url=own_postgres.create_database())
    account_id, _ = api.new_account()
    jobs = api.state.jobs
    job = jobs.accept(account_id, RunRequest(language="python", code="print(1)")).job
    assert jobs.bind_coderun(job.id, "uid-1")
    watcher = KubernetesExecutor(jobs, api.state.settings)
    coderun = {
        "metadata": {"name": job.id, "uid": "uid-1"},
        "status": {"conditions": [{"type": r.COND_RUNNING, "status": "True"}]},
    }
    own_postgres.stop()
    try:
        with pytest.raises(OperationalError):
            watcher._observe(coderun)
    finally:
        own_postgres.start()
    watcher._observe(coderun)
    assert api.job(job.id).status == Status.RUNNING.value
