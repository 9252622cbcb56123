"""Reading a sandbox container's log marks (delivery.py) and what a deadline means for a
runner that never got its request (pod_verdict.py). No cluster."""

from __future__ import annotations

import json

from coderun_operator import pod_verdict
from coderun_operator.delivery import ends_exchange, has_mark, was_incomplete
from coderun_sandbox.contract import (
    INCOMPLETE_KEY,
    READY_KEY,
    RECEIVED_KEY,
    RunLimits,
    parse_iso_utc,
)

from .factories import pod, result_line, terminated

READY = json.dumps({READY_KEY: {}})
RECEIVED = json.dumps({RECEIVED_KEY: {"runnerStartedAt": "2026-11-28T10:00:02.000Z"}})
INCOMPLETE = json.dumps({INCOMPLETE_KEY: {"message": "the stream ended after 3 bytes"}})


def test_the_exchange_ends_with_a_result_or_incomplete_not_with_progress_marks() -> None:
    assert ends_exchange(result_line())
    assert ends_exchange(INCOMPLETE)
    assert not ends_exchange(READY) and not ends_exchange(RECEIVED)
    assert not ends_exchange("print('coderunResult')")  # what a program could never print here


def test_marks_are_whole_json_lines() -> None:
    log = "\n".join([READY, RECEIVED, result_line()])
    assert has_mark(log, RECEIVED_KEY) and has_mark(log, READY_KEY)
    assert not has_mark(READY + "\n", RECEIVED_KEY)
    assert not has_mark('{"note": "coderunReceived"}', RECEIVED_KEY)


def test_incomplete_only_without_a_result() -> None:
    assert was_incomplete("\n".join([READY, INCOMPLETE]))
    assert not was_incomplete("\n".join([READY, RECEIVED, result_line()]))


def test_a_deadline_while_waiting_for_the_request_is_no_tle() -> None:
    ended = pod(phase="Failed", run_state=terminated(137, "Error"), reason="DeadlineExceeded")
    now = parse_iso_utc("2026-11-28T10:05:00Z")
    waiting = pod_verdict.classify(
        ended, {"run": READY + "\n"}, limits=RunLimits(), now=now, start_grace_seconds=60
    )
    assert waiting is not None and waiting.error_type == "SandboxError", waiting
    assert "waiting for its run request" in waiting.error_message
    running = pod_verdict.classify(
        ended,
        {"run": READY + "\n" + RECEIVED + "\n"},
        limits=RunLimits(),
        now=now,
        start_grace_seconds=60,
    )
    assert running is not None and running.error_type == "TLE", running
