"""The database side of the fair queue (coderun_api.job_queue), on SQLite and PostgreSQL:
claims come in turns between accounts and within each account's cap, with no program run
(the REST tests in test_fair_queues.py run real ones)."""

from __future__ import annotations

from pathlib import Path

from coderun_api import db
from coderun_api.accounts import create_account
from coderun_api.config import Settings
from coderun_api.job_queue import JobQueue
from coderun_api.jobs import JobStore
from coderun_api.models import FairClock, Job
from coderun_api.notify import JobNotifier
from coderun_sandbox.contract import RunRequest, RunResult, Status
from sqlalchemy import Engine, delete
from sqlmodel import Session

OWNER = "local:test:0001"


def setup(database_url: str, tmp_path: Path) -> tuple[Engine, JobStore]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    db.upgrade(settings)
    engine = db.make_engine(settings)
    return engine, JobStore(engine, JobNotifier(), lease_seconds=30)


def queue_jobs(jobs: JobStore, account_id: int, count: int) -> list[str]:
    request = RunRequest(language="python", code="print(1)")
    return [jobs.accept(account_id, request, owner=OWNER).job.id for _ in range(count)]


def test_claims_take_turns_and_keep_to_the_cap(database_url: str, tmp_path: Path) -> None:
    engine, jobs = setup(database_url, tmp_path)
    a = create_account(engine, "a@example.com", credits=20, password=None).id
    b = create_account(engine, "b@example.com", credits=20, password=None).id
    assert a is not None and b is not None
    queue = JobQueue(engine, lease_seconds=30, max_running_per_account=2)
    a_jobs = queue_jobs(jobs, a, 5)
    b_jobs = queue_jobs(jobs, b, 2)  # queued after all of A's

    first = [queue.claim(OWNER) for _ in range(4)]
    # A, B, A, B: then both are at their cap of 2, and nothing more may start.
    assert [job.id for job in first if job] == [a_jobs[0], b_jobs[0], a_jobs[1], b_jobs[1]]
    assert queue.claim(OWNER) is None
    assert all(job and job.status == Status.RUNNING.value and job.owner == OWNER for job in first)

    jobs.finalize(a_jobs[0], RunResult(status=Status.SUCCESS))
    claimed = queue.claim(OWNER)
    assert claimed is not None and claimed.id == a_jobs[2]  # A's oldest waiting job
    assert queue.depth() == 2
    engine.dispose()


def test_a_missing_clock_row_is_made_on_first_claim(database_url: str, tmp_path: Path) -> None:
    engine, jobs = setup(database_url, tmp_path)
    with Session(engine) as session:
        session.execute(delete(FairClock))
        session.commit()
    account = create_account(engine, "c@example.com", credits=5, password=None).id
    assert account is not None
    (job_id,) = queue_jobs(jobs, account, 1)
    claimed = JobQueue(engine, lease_seconds=30, max_running_per_account=2).claim(OWNER)
    assert claimed is not None and claimed.id == job_id
    with Session(engine) as session:
        clock = session.get(FairClock, 1)
        job = session.get(Job, job_id)
        assert clock is not None and job is not None and job.attempts == 1
    engine.dispose()
