"""PostgreSQL, then Redis, down and back under an API with the Kubernetes executor, runs in
flight: results that arrive while a service is down are recorded once it is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import pytest

from tests.fixtures.services import PostgresServer
from tests.operator.harness import Stack
from tests.reliability.cluster_faults import all_coderuns_final
from tests.reliability.conftest import MakeStack
from tests.reliability.ledger import bounded, new_ledger
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


class Outage(NamedTuple):
    """A service's fault as docs/reliability.md tells it: "`service` `stopped` with runs in
    flight", later "`service` `started`"."""

    fault: str
    service: str
    stopped: str
    started: str


POSTGRES_DOWN = Outage("postgres-down", "PostgreSQL", "stopped (`pg_ctl -m immediate`)", "started")
REDIS_DOWN = Outage(
    "redis-down",
    "Redis",
    "(rate limits, result notifications) SIGKILLed",
    "started again on its port",
)


def down_and_back(
    stack: Stack, outage: Outage, stop: Callable[[], None], start: Callable[[], None]
) -> None:
    """Runs in flight, the service stopped, submissions tried meanwhile, every CodeRun left
    to end on the cluster while it is down, the service back, more runs: every run a
    success, nothing lost or charged twice."""
    ledger = new_ledger(stack.api)
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
    figures = ledger.recorded(
        outage.fault,
        f"{outage.service} down and back",
        f"10 runs of 2 s; {outage.service} {outage.stopped} with runs in flight; 3 submissions "
        "tried while down; every CodeRun left to end on the cluster; "
        f"{outage.service} {outage.started}; 4 more runs.",
        in_flight,
    )
    assert figures.successes == figures.accepted, figures


def test_postgres_down_and_back(make_stack: MakeStack, own_postgres: PostgresServer) -> None:
    stack = make_stack(
        CODERUN_DATABASE_URL=own_postgres.create_database(), CODERUN_AUTO_MIGRATE="true"
    )
    down_and_back(stack, POSTGRES_DOWN, own_postgres.stop, own_postgres.start)


def test_redis_down_and_back(make_stack: MakeStack, own_redis: RestartableRedis) -> None:
    stack = make_stack(CODERUN_REDIS_URL=own_redis.url)
    down_and_back(stack, REDIS_DOWN, own_redis.stop, own_redis.start)
