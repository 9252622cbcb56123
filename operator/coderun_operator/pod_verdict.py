"""A sandbox pod's status and container logs → the run's final result. Pure: no I/O.

Sources, strongest first (the program can forge none of them: it cannot write to the
runner's stdout, which is the container log, nor change the pod status):

1. the pod's `DeadlineExceeded` (the activeDeadlineSeconds backstop) → TLE;
2. the run container `OOMKilled` → MLE (the kernel killed something in the container's
   memory cgroup: the program, or the runner once the program left it no room);
3. the runner's one JSON result line in the run container's log → its verdict, with MLE
   also when the program's measured peak exceeded its limit inside the runner's allowance;
4. the compile init container failing → its CompilationError line (OOMKilled there is the
   compiler's problem: CompilationError, never the program's MLE), or the network gate's
   SandboxError line (gate.py: the deny-all policy never took hold);
5. a container that ended without a result line → SandboxError with its termination message;
6. an image that cannot be pulled, a container that cannot be created, or a pod that
   cannot be scheduled for longer than the grace period → SandboxError saying which.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from coderun_sandbox import verdict_messages as messages
from coderun_sandbox.contract import (
    READY_KEY,
    RECEIVED_KEY,
    RESULT_KEY,
    RUNNER_STARTED_AT,
    ErrorType,
    RunLimits,
    RunResult,
    Status,
    ms_between,
    parse_iso_utc,
)

from coderun_operator.resources import (
    COMPILE_CONTAINER,
    INIT_CONTAINERS,
    RUN_CONTAINER,
)

# Waiting reasons that will not go away by themselves within a run's lifetime.
IMAGE_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CREATE_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
# A pod that has not started for this many grace periods, for any reason, is given up.
NOT_STARTED_GRACE_FACTOR = 5
MESSAGE_CAP = 1000


class Progress(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    TERMINATED = "terminated"


def _statuses(pod: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    status = pod.get("status") or {}
    return {s.get("name", ""): s for s in status.get(key) or []}


def container_status(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = _statuses(pod, "containerStatuses").get(name)
    if found is None:
        found = _statuses(pod, "initContainerStatuses").get(name)
    return found or {}


def _state(pod: Mapping[str, Any], name: str, which: str) -> Mapping[str, Any] | None:
    state = container_status(pod, name).get("state") or {}
    value = state.get(which)
    return value if isinstance(value, Mapping) else None


def terminated(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return _state(pod, name, "terminated")


def progress(pod: Mapping[str, Any]) -> Progress:
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or terminated(pod, RUN_CONTAINER):
        return Progress.TERMINATED
    if _failed_init(pod) is not None:
        return Progress.TERMINATED
    if _state(pod, RUN_CONTAINER, "running") is not None:
        return Progress.RUNNING
    return Progress.PENDING


def _failed_init(pod: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The first init container that ended with an error, and its terminated state."""
    for name in INIT_CONTAINERS:
        end = terminated(pod, name)
        if end is not None and end.get("exitCode", 0) != 0:
            return name, end
    return None


def sandbox_started_at(pod: Mapping[str, Any]) -> datetime | None:
    """When the sandbox started on the run: the earliest start of any of its containers
    (the compile step for compiled languages). The job's startedAt, so that its
    executionTimeMs includes compilation on Kubernetes as it does locally
    (time_fields.EXECUTION_TIME_MS). Kubernetes records container starts to the second."""
    starts = []
    for name in (*INIT_CONTAINERS, RUN_CONTAINER):
        state = _state(pod, name, "running") or terminated(pod, name) or {}
        if state.get("startedAt"):
            starts.append(parse_iso_utc(str(state["startedAt"])))
    return min(starts, default=None)


class RunnerClock(NamedTuple):
    """What the runners measured on their own millisecond clocks, beside the verdict."""

    started_at: datetime | None  # when the pod's first runner began (the job's startedAt)
    compile_time_ms: int | None  # the compile container's compile step (compiled languages)


def _runner_started_at(payload: Mapping[str, Any] | None) -> datetime | None:
    value = (payload or {}).get(RUNNER_STARTED_AT)
    if not isinstance(value, str):
        return None
    try:
        return parse_iso_utc(value)
    except ValueError:
        return None


def runner_clock(run_log: str, compile_log: str | None) -> RunnerClock:
    """The sandbox's start and the compile time from the result lines of the compile and
    run containers. Pod statuses count container starts in whole seconds, so the job's
    startedAt and compileTimeMs come from here (time_fields: the same meaning as on the
    embedded executor); None where a line is missing (an old image, a runner that died)."""
    compiled = parse_result_line(compile_log) if compile_log is not None else None
    starts = [
        moment
        for moment in (_runner_started_at(compiled), _runner_started_at(parse_result_line(run_log)))
        if moment is not None
    ]
    compile_ms = (compiled or {}).get("compileTimeMs")
    return RunnerClock(
        started_at=min(starts, default=None),
        compile_time_ms=compile_ms if isinstance(compile_ms, int) and compile_ms >= 0 else None,
    )


def all_started(pod: Mapping[str, Any]) -> bool:
    """Every container of the pod has started (running or already ended): each can take
    its request (a compile and a run container start together, not always at one instant)."""
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    return all(
        _state(pod, str(name), "running") is not None or terminated(pod, str(name)) is not None
        for name in names
    )


def compile_succeeded(pod: Mapping[str, Any]) -> bool:
    """The compile init container ran and exited 0 (so its log holds its compile time)."""
    end = terminated(pod, COMPILE_CONTAINER)
    return end is not None and end.get("exitCode") == 0


def logs_needed(pod: Mapping[str, Any]) -> list[str]:
    """Containers whose log `classify` needs (the ones that terminated)."""
    needed = []
    failed = _failed_init(pod)
    if failed is not None:
        needed.append(failed[0])
    if terminated(pod, RUN_CONTAINER) is not None:
        needed.append(RUN_CONTAINER)
    return needed


def parse_result_line(log: str) -> dict[str, Any] | None:
    """The runner's result: the last log line that is `{"coderunResult": {...}}`."""
    for line in reversed(log.split("\n")):  # only "\n" ends a log line (not U+2028, ...)
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get(RESULT_KEY), dict):
            return dict(item[RESULT_KEY])
    return None


def _times(state: Mapping[str, Any]) -> dict[str, Any]:
    started = state.get("startedAt")
    finished = state.get("finishedAt")
    out: dict[str, Any] = {}
    if started:
        out["started_at"] = parse_iso_utc(str(started))
    if finished:
        out["finished_at"] = parse_iso_utc(str(finished))
    if started and finished:
        out["execution_time_ms"] = ms_between(out["started_at"], out["finished_at"])
    return out


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_CAP else "…" + text[-MESSAGE_CAP:]


def _ended_without_result(what: str, state: Mapping[str, Any]) -> RunResult:
    code = state.get("exitCode")
    reason = state.get("reason") or "Error"
    detail = _clip(str(state.get("message") or ""))
    message = f"the {what} ended (exit code {code}, {reason}) without reporting a result"
    return RunResult.failure(
        ErrorType.SANDBOX_ERROR, message + (f": {detail}" if detail else ""), **_times(state)
    )


def _from_payload(payload: Mapping[str, Any], state: Mapping[str, Any]) -> RunResult | None:
    try:
        result = RunResult.from_json_dict(dict(payload))
    except (KeyError, ValueError, TypeError):
        return None
    times = _times(state)
    return result.replace(
        started_at=result.started_at or times.get("started_at"),
        finished_at=result.finished_at or times.get("finished_at"),
    )


def _classify_run(state: Mapping[str, Any], log: str, limits: RunLimits) -> RunResult:
    payload = parse_result_line(log)
    measured = _from_payload(payload, state) if payload and "status" in payload else None
    if state.get("reason") == "OOMKilled":
        mle = RunResult.failure(
            ErrorType.MLE, messages.memory_exceeded(limits.memory_limit_mb), **_times(state)
        )
        if measured is not None:
            # Keep what the program printed and the runner measured; the verdict is MLE.
            return measured.replace(
                status=Status.FAILED, error_type=ErrorType.MLE, error_message=mle.error_message
            )
        return mle
    if measured is None:
        return _ended_without_result("sandbox", state)
    peak_kb = measured.memory_kb or 0
    if peak_kb > limits.memory_limit_mb * 1024 and measured.error_type in (
        None,
        ErrorType.RUNTIME_ERROR,
    ):
        return measured.replace(
            status=Status.FAILED,
            error_type=ErrorType.MLE,
            error_message=messages.memory_peak_exceeded(peak_kb, limits.memory_limit_mb),
        )
    return measured


def is_result_line(line: str) -> bool:
    return parse_result_line(line) is not None


def classify_streamed(log: str, limits: RunLimits) -> RunResult | None:
    """The verdict from a run container's log as it is printed, before the kubelet reports
    the container's end. Only the runner writes that log, and it reports OOM kills in its
    own container itself, so its line is already the verdict (with the same MLE rule)."""
    payload = parse_result_line(log)
    if payload is None or "status" not in payload:
        return None
    return _classify_run({}, log, limits)


def _classify_compile(state: Mapping[str, Any], log: str) -> RunResult:
    if state.get("reason") == "OOMKilled":
        return RunResult.failure(
            ErrorType.COMPILATION_ERROR, messages.compiler_out_of_memory(), **_times(state)
        )
    payload = parse_result_line(log)
    if payload and "status" in payload:
        result = _from_payload(payload, state)
        if result is not None and result.status is Status.FAILED:
            return result
    return _ended_without_result("compile step", state)


def _waiting_problem(pod: Mapping[str, Any]) -> str | None:
    for name in (COMPILE_CONTAINER, RUN_CONTAINER):
        waiting = _state(pod, name, "waiting")
        if waiting is None:
            continue
        reason = str(waiting.get("reason") or "")
        detail = _clip(str(waiting.get("message") or ""))
        image = container_status(pod, name).get("image", "")
        if reason in IMAGE_REASONS:
            return f"the sandbox image {image} cannot be pulled ({reason}): {detail}".rstrip(": ")
        if reason in CREATE_REASONS:
            return f"the {name} container cannot be created ({reason}): {detail}".rstrip(": ")
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            detail = _clip(str(condition.get("message") or ""))
            return f"the sandbox pod cannot be scheduled: {detail}".rstrip(": ")
    return None


def _pending_verdict(pod: Mapping[str, Any], now: datetime, grace_s: float) -> RunResult | None:
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return None
    age_s = (now - parse_iso_utc(str(created))).total_seconds()
    problem = _waiting_problem(pod)
    if problem is not None and age_s >= grace_s:
        return RunResult.failure(ErrorType.SANDBOX_ERROR, f"{problem} (after {round(age_s)} s)")
    if age_s >= grace_s * NOT_STARTED_GRACE_FACTOR:
        return RunResult.failure(
            ErrorType.SANDBOX_ERROR,
            f"the sandbox pod did not start within {round(age_s)} s "
            f"(phase {(pod.get('status') or {}).get('phase', 'Unknown')})",
        )
    return None


def classify(
    pod: Mapping[str, Any],
    logs: Mapping[str, str],
    *,
    limits: RunLimits,
    now: datetime,
    start_grace_seconds: float,
) -> RunResult | None:
    """The final result the pod shows, or None while the run is not over.

    `logs` maps container names (see `logs_needed`) to their log text.
    """
    status = pod.get("status") or {}
    run_end = terminated(pod, RUN_CONTAINER)
    if status.get("reason") == "DeadlineExceeded":
        if run_end is not None and run_end.get("reason") == "OOMKilled":
            return _classify_run(run_end, logs.get(RUN_CONTAINER, ""), limits)
        run_log = logs.get(RUN_CONTAINER, "")
        if READY_KEY in run_log and RECEIVED_KEY not in run_log:
            # The runner waited for a request that never came: the program never ran, so
            # this is no verdict about it.
            return RunResult.failure(
                ErrorType.SANDBOX_ERROR,
                "the sandbox pod passed its deadline waiting for its run request; "
                "the program did not run",
            )
        return RunResult.failure(
            ErrorType.TLE,
            messages.deadline_passed(str(status.get("message") or "activeDeadlineSeconds")),
            **_times(run_end or {}),
        )
    if run_end is not None:
        return _classify_run(run_end, logs.get(RUN_CONTAINER, ""), limits)
    failed = _failed_init(pod)
    if failed is not None:
        name, end = failed
        return _classify_compile(end, logs.get(name, ""))
    if status.get("phase") in ("Failed", "Succeeded"):
        reason = status.get("reason") or status.get("phase")
        detail = _clip(str(status.get("message") or ""))
        return RunResult.failure(
            ErrorType.SANDBOX_ERROR,
            f"the sandbox pod ended ({reason}) before the program ran"
            + (f": {detail}" if detail else ""),
        )
    if _state(pod, RUN_CONTAINER, "running") is not None:
        return None
    return _pending_verdict(pod, now, start_grace_seconds)
