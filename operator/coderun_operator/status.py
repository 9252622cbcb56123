"""CodeRun `status` documents, built purely from what the operator decided.

Conditions follow the Kubernetes API conventions: keyed by type, `lastTransitionTime`
changes only when `status` changes; `phase` is derived from them for `kubectl get`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from coderun_sandbox.contract import RunResult, Status, iso_utc

from coderun_operator import resources as r


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """A copy of `conditions` with one condition set (keeping its transition time if the
    status did not change)."""
    out: list[dict[str, Any]] = []
    found = False
    for condition in conditions:
        if condition.get("type") != type_:
            out.append(dict(condition))
            continue
        found = True
        changed = condition.get("status") != status
        transition = iso_utc(now) if changed else condition.get("lastTransitionTime", iso_utc(now))
        out.append(_condition(type_, status, reason, message, transition, generation))
    if not found:
        out.append(_condition(type_, status, reason, message, iso_utc(now), generation))
    order = {r.COND_SCHEDULED: 0, r.COND_RUNNING: 1, r.COND_SUCCEEDED: 2}
    out.sort(key=lambda c: order.get(str(c.get("type")), 9))
    return out


def _condition(
    type_: str, status: str, reason: str, message: str, transition: str, generation: int | None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": transition,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def _base(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    return list(status.get("conditions") or []), generation


def queued(
    body: Mapping[str, Any],
    active: int,
    cap: int,
    now: datetime,
    *,
    account_active: int | None = None,
    account_cap: int | None = None,
) -> dict[str, Any]:
    """Admitted not yet: Scheduled False (Queued), with `active` of `cap` runs in the
    message, and the account's own count when both account numbers are given."""
    conditions, generation = _base(body)
    message = f"waiting for a free slot: {active} of {cap} runs active"
    if account_active is not None and account_cap is not None:
        # Says why a run waits while slots look free: its account is at its own cap.
        message += f", {account_active} of at most {account_cap} of this account's"
    conditions = set_condition(
        conditions, r.COND_SCHEDULED, "False", "Queued", message, now, generation
    )
    return {"phase": r.PHASE_QUEUED, "observedGeneration": generation, "conditions": conditions}


def scheduled(body: Mapping[str, Any], job_name: str, now: datetime) -> dict[str, Any]:
    """A cold start: the CodeRun's own Job was created."""
    conditions, generation = _base(body)
    conditions = set_condition(
        conditions,
        r.COND_SCHEDULED,
        "True",
        "JobCreated",
        f"Job {job_name} created",
        now,
        generation,
    )
    return {
        "phase": r.PHASE_SCHEDULED,
        "observedGeneration": generation,
        "conditions": conditions,
        "jobName": job_name,
        "start": r.START_COLD,
        "scheduledAt": iso_utc(now),
    }


def _running_in(
    conditions: Sequence[Mapping[str, Any]], pod_name: str, now: datetime, generation: int | None
) -> list[dict[str, Any]]:
    """`conditions` with Running True: the program runs in `pod_name`."""
    return set_condition(
        conditions,
        r.COND_RUNNING,
        "True",
        "PodRunning",
        f"the program runs in pod {pod_name}",
        now,
        generation,
    )


def claimed(body: Mapping[str, Any], job_name: str, pod_name: str, now: datetime) -> dict[str, Any]:
    """A warm start: a pool pod was claimed, already running, its request on the way. One
    write for what a cold start takes two (Scheduled, then Running)."""
    conditions, generation = _base(body)
    conditions = set_condition(
        conditions,
        r.COND_SCHEDULED,
        "True",
        "PodClaimed",
        f"pool pod {pod_name} (Job {job_name}) claimed",
        now,
        generation,
    )
    conditions = _running_in(conditions, pod_name, now, generation)
    return {
        "phase": r.PHASE_RUNNING,
        "observedGeneration": generation,
        "conditions": conditions,
        "jobName": job_name,
        "podName": pod_name,
        "start": r.START_WARM,
        "scheduledAt": iso_utc(now),
        # Replaced at the end by the runner's own clock (when it received the request).
        "startedAt": iso_utc(now),
    }


def running(
    body: Mapping[str, Any], pod_name: str, started_at: datetime, now: datetime
) -> dict[str, Any]:
    conditions, generation = _base(body)
    return {
        "phase": r.PHASE_RUNNING,
        "observedGeneration": generation,
        "conditions": _running_in(conditions, pod_name, now, generation),
        "podName": pod_name,
        "startedAt": iso_utc(started_at),
    }


def final(
    body: Mapping[str, Any],
    result: RunResult,
    now: datetime,
    pod_name: str | None = None,
    sandbox_started_at: datetime | None = None,
) -> dict[str, Any]:
    """The run is over with `result`: Running False, Succeeded from its verdict (and
    Scheduled False with the same reason if it never started)."""
    conditions, generation = _base(body)
    verdict = r.verdict_of(result.status, result.error_type)
    reason = r.VERDICT_REASONS[verdict]
    success = result.status is Status.SUCCESS
    message = "the program ran successfully" if success else result.error_message
    if not any(c.get("type") == r.COND_SCHEDULED and c.get("status") == "True" for c in conditions):
        conditions = set_condition(
            conditions, r.COND_SCHEDULED, "False", reason, message, now, generation
        )
    conditions = set_condition(
        conditions, r.COND_RUNNING, "False", "Finished", "the run is over", now, generation
    )
    conditions = set_condition(
        conditions,
        r.COND_SUCCEEDED,
        "True" if success else "False",
        reason,
        message or reason,
        now,
        generation,
    )
    document: dict[str, Any] = {
        "phase": r.PHASE_SUCCEEDED if success else r.PHASE_FAILED,
        "observedGeneration": generation,
        "conditions": conditions,
        "verdict": verdict,
        "result": result.to_json_dict(),
        "finishedAt": iso_utc(result.finished_at or now),
    }
    # startedAt is when the sandbox began the run. running() could only set it from the
    # pod's first container, which Kubernetes records in whole seconds; the runners' own
    # clock (sandbox_started_at) replaces it. A run never seen running, with no runner
    # line, takes the program's start.
    if sandbox_started_at is not None:
        document["startedAt"] = iso_utc(sandbox_started_at)
    elif result.started_at is not None and not (body.get("status") or {}).get("startedAt"):
        document["startedAt"] = iso_utc(result.started_at)
    if pod_name:
        document["podName"] = pod_name
    return document


def requeued(body: Mapping[str, Any], message: str, now: datetime) -> dict[str, Any]:
    """Queued again for a new pod: the request never reached the old one whole, so nothing
    of the program ran. The old pod's fields go (a merge patch deletes a null)."""
    conditions, generation = _base(body)
    for type_ in (r.COND_SCHEDULED, r.COND_RUNNING):
        conditions = set_condition(
            conditions, type_, "False", "Redelivering", message, now, generation
        )
    return {
        "phase": r.PHASE_QUEUED,
        "observedGeneration": generation,
        "conditions": conditions,
        "redeliveries": r.attempt_of(body) + 1,
        **dict.fromkeys(("jobName", "podName", "start", "scheduledAt", "startedAt")),
    }


def result_of(body: Mapping[str, Any]) -> RunResult | None:
    """The final result recorded in a CodeRun's status, or None while it is not final."""
    if not r.is_final(body):
        return None
    data = (body.get("status") or {}).get("result")
    if not isinstance(data, Mapping):
        return None
    return RunResult.from_json_dict(dict(data))
