"""The job store's side of binding a job to its CodeRun (the Kubernetes executor records the
uid; tests/operator/test_job_binding.py attacks it on the cluster): on the real database,
only the recorded uid may mark the job running or final, and a wrong one charges nothing."""

from __future__ import annotations

from datetime import timedelta

from coderun_api.jobs import Reported
from coderun_sandbox.contract import RunRequest, RunResult, Status, utc_now

from tests.api.helpers import Api


def test_only_the_bound_coderun_moves_the_job(any_db_api: Api) -> None:
    account_id, _ = any_db_api.new_account(credits=3)
    jobs = any_db_api.state.jobs
    job = jobs.accept(account_id, RunRequest(language="python", code="print(1)")).job
    assert jobs.bind_coderun(job.id, "uid-of-the-api-s-coderun")
    forged = RunResult(status=Status.SUCCESS, stdout="forged\n", exit_code=0, finished_at=utc_now())

    assert jobs.mark_running(job.id, Reported("uid-of-another-object")) is None
    assert jobs.finalize(job.id, forged, Reported("uid-of-another-object")) is False
    assert any_db_api.job(job.id).status == Status.QUEUED.value
    assert any_db_api.account(account_id).credits == 3

    # A start rounded down to the second (as Kubernetes reports it) never precedes queuedAt.
    early = job.queued_at.replace(microsecond=0) - timedelta(seconds=1)
    running = jobs.mark_running(job.id, Reported("uid-of-the-api-s-coderun", early))
    assert running is not None and running.started_at == job.queued_at
    real = forged.replace(stdout="1\n")
    assert jobs.finalize(job.id, real, Reported("uid-of-the-api-s-coderun")) is True
    stored = any_db_api.job(job.id)
    assert (stored.status, stored.stdout, stored.charged) == ("success", "1\n", True)
    assert any_db_api.account(account_id).credits == 2
