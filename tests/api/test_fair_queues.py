"""Fair queues on the local executor, through the REST API with real runs.

Account A queues six slow programs, then account B submits hello world. B must not wait
behind A's backlog: it starts before every one of A's jobs that were still queued when it
arrived. A never has more than its cap running, also when two API replicas share the
database and have more workers between them than the cap. Submissions over the cap are
accepted and wait as `queued`.

The assertions are on order (which job started before which, which ran at the same time),
never on durations: the start and finish instants come from the database, to the
microsecond, since the API's timestamps are to the millisecond and two claims can share one.
"""

from __future__ import annotations

import time
from datetime import datetime

from coderun_api.models import Job
from sqlalchemy import select
from sqlmodel import Session, col

from tests.api.conftest import MakeApi
from tests.api.helpers import Api

# Well inside the 3 s limit, long enough that B arrives while A's first runs still run.
SLOW = "import time\ntime.sleep(2.0)\nprint('slow {}')\n"
HELLO = "print('hello from B')\n"
BACKLOG = 6


def submit_backlog(api: Api, key: str, count: int = BACKLOG, first: int = 0) -> list[str]:
    """Slow programs from one account: all accepted, each queued at first."""
    job_ids = []
    for number in range(first, first + count):
        response = api.submit(key, SLOW.format(number))
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "queued"
        job_ids.append(data["jobId"])
    return job_ids


def wait_running(api: Api, key: str, job_ids: list[str], count: int) -> None:
    """Until `count` of the jobs run (bounded by rounds; each round is a 0.05 s wait)."""
    for _ in range(400):
        statuses = [api.result(key, job_id).json()["data"]["status"] for job_id in job_ids]
        if statuses.count("running") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} of the backlog never ran at once")


def running_now(api: Api, job_ids: list[str]) -> int:
    """How many of the jobs run at this instant: one statement, so one snapshot (a GET per
    job could see one job still running and its successor already started)."""
    with Session(api.state.engine) as session:
        statuses = session.execute(select(col(Job.status)).where(col(Job.id).in_(job_ids)))
        return sum(1 for (status,) in statuses if status == "running")


def interval(api: Api, job_id: str) -> tuple[datetime, datetime]:
    job = api.job(job_id)
    assert job.started_at is not None and job.finished_at is not None, job
    return job.started_at, job.finished_at


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most half-open [start, finish) intervals that share an instant."""
    return max(sum(1 for s, f in intervals if s <= start < f) for start, _ in intervals)


def test_another_account_starts_before_the_rest_of_a_backlog(
    make_api: MakeApi, database_url: str
) -> None:
    api = make_api(database_url=database_url, local_workers=2, max_running_per_account=2)
    _, key_a = api.new_account("a@example.com", credits=20)
    _, key_b = api.new_account("b@example.com", credits=5)
    backlog = submit_backlog(api, key_a)
    wait_running(api, key_a, backlog, 2)

    hello = api.submit(key_b, HELLO).json()["data"]["jobId"]
    data_b = api.wait_final(key_b, hello)
    assert (data_b["status"], data_b["stdout"]) == ("success", "hello from B\n")
    for job_id in backlog:
        assert api.wait_final(key_a, job_id)["status"] in ("success", "failed")

    started_b = api.job(hello).started_at
    assert started_b is not None
    starts_a = sorted(interval(api, job_id)[0] for job_id in backlog)
    # Only the two runs already going when B arrived started before it; the first worker
    # to free up took B, ahead of A's four queued jobs (first come, first served would
    # have put B seventh).
    assert sum(1 for start in starts_a if start < started_b) == 2, (starts_a, started_b)


def test_one_account_never_runs_more_than_its_cap_across_replicas(
    make_api: MakeApi, database_url: str
) -> None:
    # Two replicas of the API on one database, two workers each: four workers, cap 2.
    first = make_api(database_url=database_url, local_workers=2, max_running_per_account=2)
    second = make_api(database_url=database_url, local_workers=2, max_running_per_account=2)
    _, key_a = first.new_account("a@example.com", credits=20)
    _, key_b = first.new_account("b@example.com", credits=5)
    backlog = submit_backlog(first, key_a, 3) + submit_backlog(second, key_a, 3, first=3)
    wait_running(first, key_a, backlog, 2)

    hello = second.submit(key_b, HELLO).json()["data"]["jobId"]
    samples = []
    for job_id in backlog:
        samples.append(running_now(first, backlog))
        assert first.wait_final(key_a, job_id)["status"] in ("success", "failed")
    assert second.wait_final(key_b, hello)["status"] == "success"

    assert max(samples) <= 2, samples
    intervals = [interval(first, job_id) for job_id in backlog]
    # Two of A's runs at a time, never three or four, although two workers were idle.
    assert most_at_once(intervals) == 2, intervals
    # Those idle workers were free for B at once: it started before A's third job.
    started_b = first.job(hello).started_at
    assert started_b is not None
    assert sum(1 for start, _ in intervals if start < started_b) == 2
