"""The job's startedAt and compileTimeMs on Kubernetes come from the runners' own
millisecond clock (their result lines), not from pod statuses, which count whole seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from coderun_operator import pod_verdict, status
from coderun_operator.main import is_exact_namespace
from coderun_sandbox.contract import RESULT_KEY, RUNNER_STARTED_AT, RunResult, Status

from .factories import coderun

COMPILE_START = "2026-11-28T10:00:00.250Z"
RUN_START = "2026-11-28T10:00:01.730Z"


def _line(**payload: object) -> str:
    return "gate: open\n" + json.dumps({RESULT_KEY: payload}) + "\n"


def test_a_compiled_run_starts_with_its_compile_runner_and_carries_its_compile_time() -> None:
    compile_log = _line(compiled=True, compileTimeMs=612, **{RUNNER_STARTED_AT: COMPILE_START})
    run_log = _line(status="success", executionTimeMs=7, **{RUNNER_STARTED_AT: RUN_START})
    clock = pod_verdict.runner_clock(run_log, compile_log)
    assert clock.started_at == datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=UTC)
    assert clock.compile_time_ms == 612


def test_an_interpreted_run_starts_with_its_run_runner() -> None:
    run_log = _line(status="success", executionTimeMs=7, **{RUNNER_STARTED_AT: RUN_START})
    clock = pod_verdict.runner_clock(run_log, None)
    assert clock.started_at == datetime(2026, 11, 28, 10, 0, 1, 730000, tzinfo=UTC)
    assert clock.compile_time_ms is None


def test_lines_without_the_clock_give_nothing() -> None:
    """An older image, or a runner that died before its line: the pod's start stays."""
    clock = pod_verdict.runner_clock(_line(status="success"), _line(compiled=True))
    assert clock == pod_verdict.RunnerClock(started_at=None, compile_time_ms=None)
    assert pod_verdict.runner_clock("", "not json\n") == (None, None)


def test_the_final_status_takes_the_runner_start_over_the_pods_second() -> None:
    body = coderun()
    pod_second = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    body["status"] = status.running(body, "pod", pod_second, pod_second)
    runner = datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=UTC)
    result = RunResult(status=Status.SUCCESS, exit_code=0, compile_time_ms=612)
    final = status.final(body, result, pod_second, "pod", runner)
    assert final["startedAt"] == "2026-11-28T10:00:00.250Z"
    assert final["result"]["compileTimeMs"] == 612
    # Without a runner clock the start recorded while running stays.
    assert "startedAt" not in status.final(body, result, pod_second, "pod")


def test_only_plain_namespace_names_skip_kopfs_namespace_discovery() -> None:
    assert is_exact_namespace("coderun-sandbox")
    for pattern in ("coderun-*", "!kube-system", "Upper", "-x", ""):
        assert not is_exact_namespace(pattern), pattern
