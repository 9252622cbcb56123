"""Faults inside CodeRun's own processes, on the real cluster, through REST: the operator
SIGKILLed during a burst, and a burst of memory bombs next to normal runs."""

from __future__ import annotations

import pytest

from tests.reliability.cluster_faults import (
    peak_concurrency,
    redelivered_runs,
    sandbox_pods_ended,
)
from tests.reliability.conftest import MakeStack
from tests.reliability.ledger import bounded, new_ledger

pytestmark = [pytest.mark.cluster, pytest.mark.reliability, pytest.mark.timeout(900)]

# Each allocates until it is stopped: written bytes, so every page is charged at once.
MEMORY_BOMB = "blocks = []\nwhile True:\n    blocks.append(b'x' * (16 << 20))\n"
# The same spread over five processes, none of which alone is near the limit at first.
FORKING_MEMORY_BOMB = (
    "import os\nfor _ in range(4):\n    if os.fork() == 0:\n        break\n" + MEMORY_BOMB
)


def test_operator_killed_during_a_burst(make_stack: MakeStack) -> None:
    stack = make_stack()
    ledger = new_ledger(stack.api)
    ledger.submit_sleepers(12)
    in_flight = ledger.wait_in_flight(at_least=2)
    stack.operator.kill()
    # Accepted while no operator runs: their CodeRuns wait for the next one.
    ledger.submit_sleepers(4)
    # The pods already started run on and end without it.
    bounded(
        lambda: sandbox_pods_ended(stack.cluster, stack.namespace) >= in_flight,
        "the in-flight runs' pods ended without the operator",
    )
    stack.operator.restart()
    ledger.settle()
    # A request the kill cut short on its way reached its pod incomplete: nothing of it ran,
    # and the restarted operator delivered it again on a new pod.
    again = redelivered_runs(stack.cluster, stack.namespace)
    figures = ledger.recorded(
        "operator-killed",
        "Operator killed during a burst",
        "12 runs of 2 s submitted at once; the operator SIGKILLed while runs were in flight; "
        "4 more submitted while it was down; restarted once the running pods had ended; "
        f"{again} requests the kill cut short were delivered again on new pods.",
        in_flight,
    )
    # No fault reached a program: every run is a success.
    assert figures.successes == figures.accepted, (figures, ledger.failures())


def test_memory_bombs_next_to_normal_runs(make_stack: MakeStack) -> None:
    stack = make_stack()
    ledger = new_ledger(stack.api)
    programs: list[tuple[str, str | None]] = []
    for i in range(20):
        programs.append((FORKING_MEMORY_BOMB if i % 2 else MEMORY_BOMB, None))
        programs.append((f"print({i} + 1000)\n", f"{i + 1000}\n"))
    ledger.submit_all(programs)
    ledger.settle()
    figures = ledger.recorded(
        "memory-bombs",
        "20 memory bombs next to 20 normal runs",
        "40 submissions at once, alternating a memory bomb (one process, or five after fork, "
        "allocating 16 MiB at a time until stopped) and a one-line print. In flight: the "
        "most runs side by side.",
        # Runs this short are seldom seen running through REST; the cluster's record says how
        # many ran side by side (the operator's cap).
        in_flight=peak_concurrency(stack.cluster, stack.namespace),
    )
    normal = [job_id for job_id, stdout in ledger.expected.items() if stdout is not None]
    assert all(ledger.results[job_id]["status"] == "success" for job_id in normal), figures
    # Every bomb fails, free: MLE, or TLE when a loaded node gives it too little CPU to
    # reach the limit within the wall time.
    assert figures.successes == 20 and sum(figures.failed.values()) == 20, figures
    assert set(figures.failed) <= {"MLE", "TLE"}, figures
