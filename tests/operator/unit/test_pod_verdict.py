"""The verdict classifier: pod status + runner log → result. No cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from coderun_operator import pod_verdict as c
from coderun_operator import resources as r
from coderun_sandbox.contract import RESULT_KEY, ErrorType, RunLimits, Status

from .factories import pod, result_line, terminated

NOW = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)
LIMITS = RunLimits()
DONE = terminated(0)


def run(p: dict, logs: dict[str, str] | None = None, now: datetime = NOW):  # type: ignore[no-untyped-def,type-arg]
    return c.classify(p, logs or {}, limits=LIMITS, now=now, start_grace_seconds=60)


def test_pending_and_running_pods_are_not_final() -> None:
    assert run(pod()) is None
    assert c.progress(pod()) is c.Progress.PENDING
    compiled = {"terminated": {**DONE["terminated"], "startedAt": "2026-11-28T10:00:00Z"}}
    running = pod(
        phase="Running",
        compile_state=compiled,
        run_state={"running": {"startedAt": "2026-11-28T10:00:02Z"}},
    )
    assert run(running) is None
    assert c.progress(running) is c.Progress.RUNNING
    # The job started when its first container (the compile step) did.
    assert c.sandbox_started_at(running) == datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def test_the_runners_result_line_gives_the_verdict() -> None:
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0))
    assert c.logs_needed(p) == [r.RUN_CONTAINER]
    result = run(p, {r.RUN_CONTAINER: "a warning\n" + result_line() + "\n"})
    assert result is not None
    assert result.status is Status.SUCCESS
    assert result.stdout == "hi\n"
    assert result.execution_time_ms == 50


def test_runner_reported_failures_are_kept() -> None:
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0))
    line = result_line(
        status="failed",
        sandboxErrorType="TLE",
        sandboxErrorMessage="time limit exceeded",
        exitCode=137,
    )
    result = run(p, {r.RUN_CONTAINER: line})
    assert result is not None and result.error_type is ErrorType.TLE


def test_oom_killed_run_container_is_mle_whatever_the_runner_said() -> None:
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0, "OOMKilled"))
    line = result_line(
        status="failed", sandboxErrorType="RuntimeError", exitCode=137, stdout="partial"
    )
    result = run(p, {r.RUN_CONTAINER: line})
    assert result is not None
    assert result.error_type is ErrorType.MLE
    assert result.stdout == "partial"
    # Also with no result line at all (the runner itself was killed).
    p = pod(phase="Failed", compile_state=DONE, run_state=terminated(137, "OOMKilled"))
    result = run(p, {r.RUN_CONTAINER: ""})
    assert result is not None and result.error_type is ErrorType.MLE


def test_peak_over_the_limit_inside_the_runner_allowance_is_still_mle() -> None:
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0))
    over = result_line(memoryKb=(LIMITS.memory_limit_mb + 10) * 1024)
    result = run(p, {r.RUN_CONTAINER: over})
    assert result is not None and result.error_type is ErrorType.MLE
    under = result_line(memoryKb=(LIMITS.memory_limit_mb - 10) * 1024)
    result = run(p, {r.RUN_CONTAINER: under})
    assert result is not None and result.status is Status.SUCCESS


def test_deadline_exceeded_is_tle() -> None:
    p = pod(
        phase="Failed",
        compile_state=DONE,
        run_state=terminated(137, "Error"),
        reason="DeadlineExceeded",
    )
    result = run(p, {r.RUN_CONTAINER: ""})
    assert result is not None and result.error_type is ErrorType.TLE


def test_compile_failure_is_compilation_error_from_the_runner_line() -> None:
    line = result_line(
        status="failed",
        sandboxErrorType="CompilationError",
        sandboxErrorMessage="compilation failed:\nmain.cpp:1: error",
        exitCode=1,
    )
    p = pod(
        phase="Failed",
        compile_state=terminated(1, "Error"),
        run_state={"waiting": {"reason": "PodInitializing"}},
    )
    assert c.logs_needed(p) == [r.COMPILE_CONTAINER]
    assert c.progress(p) is c.Progress.TERMINATED
    result = run(p, {r.COMPILE_CONTAINER: line})
    assert result is not None
    assert result.error_type is ErrorType.COMPILATION_ERROR
    assert "main.cpp" in result.error_message


def test_compiler_out_of_memory_is_the_compilers_problem_not_mle() -> None:
    p = pod(phase="Failed", compile_state=terminated(137, "OOMKilled"))
    result = run(p, {r.COMPILE_CONTAINER: ""})
    assert result is not None and result.error_type is ErrorType.COMPILATION_ERROR


def test_missing_result_line_is_sandbox_error_with_the_termination_message() -> None:
    p = pod(phase="Failed", compile_state=DONE, run_state=terminated(1, "Error", "Traceback: boom"))
    result = run(p, {r.RUN_CONTAINER: "Traceback: boom"})
    assert result is not None
    assert result.error_type is ErrorType.SANDBOX_ERROR
    assert "boom" in result.error_message and "exit code 1" in result.error_message


def test_a_forged_line_from_the_program_cannot_appear_but_a_garbled_log_is_safe() -> None:
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0))
    result = run(p, {r.RUN_CONTAINER: json.dumps({RESULT_KEY: "nope"}) + "\n{not json"})
    assert result is not None and result.error_type is ErrorType.SANDBOX_ERROR


def test_image_pull_failure_is_sandbox_error_after_the_grace_period() -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    p = pod(compile_state=waiting, run_state={"waiting": {"reason": "PodInitializing"}})
    assert run(p, now=datetime(2026, 11, 28, 10, 0, 30, tzinfo=UTC)) is None
    result = run(p, now=datetime(2026, 11, 28, 10, 1, 2, tzinfo=UTC))
    assert result is not None
    assert result.error_type is ErrorType.SANDBOX_ERROR
    assert (
        "cannot be pulled" in result.error_message
        and "coderun-sandbox-python:dev" in result.error_message
    )


def test_unschedulable_pod_is_sandbox_error_after_the_grace_period() -> None:
    cond = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient memory.",
        }
    ]
    p = pod(conditions=cond)
    assert run(p, now=datetime(2026, 11, 28, 10, 0, 20, tzinfo=UTC)) is None
    result = run(p, now=NOW + timedelta(minutes=2))
    assert result is not None
    assert result.error_type is ErrorType.SANDBOX_ERROR
    assert "Insufficient memory" in result.error_message


def test_a_pod_that_never_starts_for_any_reason_is_given_up_eventually() -> None:
    p = pod(compile_state={"waiting": {"reason": "ContainerCreating"}})
    assert run(p, now=NOW + timedelta(minutes=2)) is None
    result = run(p, now=NOW + timedelta(minutes=10))
    assert result is not None and result.error_type is ErrorType.SANDBOX_ERROR


def test_evicted_pod_before_the_program_ran_is_sandbox_error() -> None:
    p = pod(phase="Failed", compile_state=DONE)
    p["status"]["reason"] = "Evicted"
    result = run(p)
    assert result is not None and result.error_type is ErrorType.SANDBOX_ERROR
    assert "Evicted" in result.error_message


def test_network_gate_failing_closed_is_sandbox_error_with_its_reason() -> None:
    line = json.dumps(
        {
            RESULT_KEY: {
                "status": "failed",
                "sandboxErrorType": "SandboxError",
                "sandboxErrorMessage": "the sandbox network is not locked down",
            }
        }
    )
    in_run = pod(phase="Failed", run_state=terminated(1, "Error"))
    result = run(in_run, {r.RUN_CONTAINER: line})
    assert result is not None and result.error_type is ErrorType.SANDBOX_ERROR
    assert "not locked down" in result.error_message
    in_compile = pod(phase="Failed", compile_state=terminated(1, "Error"))
    result = run(in_compile, {r.COMPILE_CONTAINER: line})
    assert result is not None and result.error_type is ErrorType.SANDBOX_ERROR
    # A "success" line cannot end a failed compile step: still a SandboxError.
    forged = run(in_compile, {r.COMPILE_CONTAINER: result_line()})
    assert forged is not None and forged.error_type is ErrorType.SANDBOX_ERROR


def test_unicode_line_separators_in_the_result_do_not_split_it() -> None:
    # The runner escapes them (ASCII JSON), but the reader must not cut at them either:
    # str.splitlines() breaks at U+2028, U+2029, U+0085 and more, a log line ends at "\n".
    p = pod(phase="Succeeded", compile_state=DONE, run_state=terminated(0))
    stdout = "name:\u2028Ada\u2029\x85\x1c\n"
    raw = json.dumps(
        {RESULT_KEY: json.loads(result_line(stdout=stdout))[RESULT_KEY]},
        ensure_ascii=False,
    )
    result = run(p, {r.RUN_CONTAINER: "a warning\n" + raw + "\n"})
    assert result is not None and result.status is Status.SUCCESS
    assert result.stdout == stdout
