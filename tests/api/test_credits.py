"""Credits: charged once per success, never for failures, 402 when none are left."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute

from tests.api.helpers import Api


def test_no_credits_is_402_and_nothing_is_queued(api: Api) -> None:
    account_id, key = api.new_account(credits=0)
    response = api.submit(key, "print(1)")
    assert response.status_code == 402
    assert response.json()["success"] is False and "credits" in response.json()["message"]
    assert api.job_count() == 0
    assert api.account(account_id).credits == 0


def test_runs_in_flight_reserve_credits(api: Api) -> None:
    account_id, key = api.new_account(credits=1)
    first = api.submit(key, "import time\ntime.sleep(0.5)\nprint('paid')")
    assert first.status_code == 200
    second = api.submit(key, "print('unpaid')")
    # The first run may still succeed and use the only credit: no overdraft.
    assert second.status_code == 402
    api.wait_final(key, first.json()["data"]["jobId"])
    account = api.account(account_id)
    assert (account.credits, account.credits_used) == (0, 1)
    assert api.submit(key, "print(1)").status_code == 402


def test_success_is_charged_exactly_once_under_concurrency(any_db_api: Api) -> None:
    """Many result watchers plus duplicate finalizers racing (as a Kubernetes watcher and a
    recovering replica would) with the real runner's result: one charge."""
    api = any_db_api
    account_id, key = api.new_account(credits=3)
    code = "import time\ntime.sleep(0.3)\nprint('once')"
    job_id = api.submit(key, code).json()["data"]["jobId"]
    real_result = execute(RunRequest(language="python", code=code))
    assert real_result.status == "success"
    start = threading.Barrier(12)

    def watch() -> str:
        start.wait()
        return str(api.wait_final(key, job_id)["status"])

    def finalize_again() -> bool:
        start.wait()
        return api.state.jobs.finalize(job_id, real_result)

    with ThreadPoolExecutor(max_workers=12) as pool:
        watchers = [pool.submit(watch) for _ in range(8)]
        finalizers = [pool.submit(finalize_again) for _ in range(4)]
        statuses = [w.result() for w in watchers]
        made_final = [f.result() for f in finalizers]
    api.wait_final(key, job_id)
    assert statuses == ["success"] * 8
    # The worker's own finalize may have won; at most one call made it final.
    assert made_final.count(True) <= 1
    account = api.account(account_id)
    assert (account.credits, account.credits_used) == (2, 1)
    assert api.job(job_id).charged is True
    # Late duplicates (a retry after a restart) change nothing.
    assert api.state.jobs.finalize(job_id, real_result) is False
    assert api.account(account_id).credits == 2


def test_concurrent_submissions_cannot_overdraw(any_db_api: Api) -> None:
    api = any_db_api
    account_id, key = api.new_account(credits=2)
    start = threading.Barrier(6)

    def submit() -> int:
        start.wait()
        return api.submit(key, "print('x')").status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda _: submit(), range(6)))
    assert sorted(codes) == [200, 200, 402, 402, 402, 402]
    listing = api.client.get("/api/v1/jobs", headers={"X-API-KEY": key}).json()["data"]
    for item in listing["items"]:
        api.wait_final(key, item["jobId"])
    account = api.account(account_id)
    assert (account.credits, account.credits_used) == (0, 2)
