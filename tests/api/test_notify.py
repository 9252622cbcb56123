"""`?wait` wake-ups: in-process and across replicas through Redis pub/sub."""

from __future__ import annotations

import asyncio

import pytest
from coderun_api.notify import JobNotifier

from tests.api.conftest import MakeApi


@pytest.mark.redis
def test_a_finalization_on_one_replica_wakes_a_waiter_on_another(redis_url: str) -> None:
    waiter_side, finalizer_side = JobNotifier(redis_url), JobNotifier(redis_url)
    waiter_side.start()
    finalizer_side.start()
    try:

        async def scenario() -> tuple[bool, bool]:
            event = waiter_side.register("job-a")
            other = waiter_side.register("job-b")
            await asyncio.to_thread(finalizer_side.publish, "job-a")
            # Bounded so a broken channel fails the test instead of hanging it.
            await asyncio.wait_for(event.wait(), timeout=20)
            waiter_side.unregister("job-a", event)
            waiter_side.unregister("job-b", other)
            return event.is_set(), other.is_set()

        assert asyncio.run(scenario()) == (True, False)
        assert waiter_side.waiting() == 0
    finally:
        waiter_side.stop()
        finalizer_side.stop()


@pytest.mark.redis
def test_wait_across_replicas_sharing_postgres_and_redis(
    make_api: MakeApi, redis_clean: str, postgres_database: str
) -> None:
    """Replica B waits on a job that replica A accepted and ran."""
    replica_a = make_api(database_url=postgres_database, redis_url=redis_clean)
    replica_b = make_api(database_url=postgres_database, redis_url=redis_clean)
    _, key = replica_a.new_account()
    job_id = replica_a.submit(key, "print('across')").json()["data"]["jobId"]
    data = replica_b.wait_final(key, job_id)
    assert (data["status"], data["stdout"]) == ("success", "across\n")
