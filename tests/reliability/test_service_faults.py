"""PostgreSQL, then Redis, down and back under an API with the Kubernetes executor, runs in
flight: results that arrive while a service is down are recorded once it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.services import PostgresServer
from tests.operator.harness import Stack
from tests.reliability.cluster_faults import all_coderuns_final
from tests.reliability.conftest import MakeStack
from tests.reliability.ledger import Ledger, bounded, new_ledger
from tests.reliability.redis_server import RestartableRedis, restartable_redis

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.reliability,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(900),
]


@pytest.fixture
def own_redis() -> Iterator[RestartableRedis]:
    with restartable_redis() as server:
        yield server


def down_and_back(
    stack: Stack, ledger: Ledger, stop: Callable[[], None], start: Callable[[], None]
) -> tuple[int, float]:
    """Runs in flight, the service stopped, submissions tried meanwhile, every CodeRun left
    to end on the cluster while it is down, the service back, more runs. (in flight, seconds)"""
    began = time.monotonic()
    ledger.submit_sleepers(10)
    accepted = len(ledger.expected)
    in_flight = ledger.wait_in_flight(at_least=2)
    stop()
    try:
        ledger.submit_sleepers(3)  # refused with a 503, or accepted: both are counted
        bounded(
            lambda: all_coderuns_final(stack.cluster, stack.namespace, accepted),
            "every CodeRun final on the cluster while the service is down",
        )
    finally:
        start()
    ledger.submit_sleepers(4)
    ledger.settle()
    return in_flight, time.monotonic() - began


def test_postgres_down_and_back(make_stack: MakeStack, own_postgres: PostgresServer) -> None:
    stack = make_stack(
        CODERUN_DATABASE_URL=own_postgres.create_database(), CODERUN_AUTO_MIGRATE="true"
    )
    ledger = new_ledger(stack.api)
    in_flight, seconds = down_and_back(stack, ledger, own_postgres.stop, own_postgres.start)
    figures = ledger.recorded(
        "postgres-down",
        "PostgreSQL down and back",
        "10 runs of 2 s; PostgreSQL stopped (`pg_ctl -m immediate`) with runs in flight; 3 "
        "submissions tried while down; every CodeRun left to end on the cluster; PostgreSQL "
        "started; 4 more runs.",
        in_flight,
        seconds,
    )
    assert figures.successes == figures.accepted, figures


def test_redis_down_and_back(make_stack: MakeStack, own_redis: RestartableRedis) -> None:
    stack = make_stack(CODERUN_REDIS_URL=own_redis.url)
    ledger = new_ledger(stack.api)
    in_flight, seconds = down_and_back(stack, ledger, own_redis.stop, own_redis.start)
    figures = ledger.recorded(
        "redis-down",
        "Redis down and back",
        "10 runs of 2 s; Redis (rate limits, result notifications) SIGKILLed with runs in "
        "flight; 3 submissions tried while down; every CodeRun left to end on the cluster; "
        "Redis started again on its port; 4 more runs.",
        in_flight,
        seconds,
    )
    assert figures.successes == figures.accepted, figures
