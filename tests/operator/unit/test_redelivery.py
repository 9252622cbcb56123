"""When a run may go to another pod: only when nothing of its program ran on this one."""

from __future__ import annotations

import json
from typing import Any

from coderun_operator import resources as r
from coderun_operator.reconciler import never_received
from coderun_sandbox.contract import READY_KEY, RECEIVED_KEY


def _mark(key: str) -> str:
    return json.dumps({key: {}}) + "\n"


def _pod(reason: str | None) -> dict[str, Any]:
    return {"status": {"phase": "Failed", **({"reason": reason} if reason else {})}}


def test_a_pod_that_died_waiting_for_its_request_ran_nothing() -> None:
    waiting = {r.RUN_CONTAINER: _mark(READY_KEY)}
    assert never_received(_pod("DeadlineExceeded"), waiting)


def test_a_request_that_arrived_is_never_run_again() -> None:
    # The program may have run (and may be a TLE): that verdict stands. The runner logs
    # RECEIVED before the program starts, and nothing can take a line out of a log, so a
    # program cannot make its own run look undelivered.
    received = {r.RUN_CONTAINER: _mark(READY_KEY) + _mark(RECEIVED_KEY) + "output\n"}
    assert not never_received(_pod("DeadlineExceeded"), received)


def test_only_the_deadline_counts_not_a_pod_that_never_got_ready() -> None:
    assert not never_received(_pod("DeadlineExceeded"), {r.RUN_CONTAINER: ""})
    assert not never_received(_pod(None), {r.RUN_CONTAINER: _mark(READY_KEY)})
