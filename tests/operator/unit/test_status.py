"""Status documents: conditions keyed by type, phase derived from them."""

from __future__ import annotations

from datetime import UTC, datetime

from coderun_operator import resources as r
from coderun_operator import status
from coderun_sandbox.contract import ErrorType, RunResult, Status

from .factories import coderun

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)


def test_lifecycle_goes_queued_scheduled_running_final() -> None:
    body = coderun()
    assert r.lifecycle(body) == "queued"
    body["status"] = status.queued(body, 2, 2, T0)
    assert r.lifecycle(body) == "queued" and body["status"]["phase"] == "Queued"
    body["status"] = status.scheduled(body, "crun-abc123", T1)
    assert r.lifecycle(body) == "active"
    (sched,) = body["status"]["conditions"]
    assert (
        sched["reason"] == "JobCreated"
        and sched["lastTransitionTime"] == "2026-11-28T10:00:01.000Z"
    )
    body["status"] = status.running(body, "pod", T1, T1)
    assert r.is_running(body)
    result = RunResult(status=Status.SUCCESS, stdout="hi", exit_code=0, execution_time_ms=12)
    body["status"] = status.final(body, result, T1)
    assert r.is_final(body) and r.lifecycle(body) == "final"
    assert body["status"]["verdict"] == "Success" and body["status"]["phase"] == "Succeeded"
    assert [c["type"] for c in body["status"]["conditions"]] == [
        "Scheduled",
        "Running",
        "Succeeded",
    ]
    assert body["status"]["result"]["stdout"] == "hi"
    assert body["status"]["observedGeneration"] == 1
    again = status.result_of(body)
    assert again is not None and again.stdout == "hi"


def test_failure_reasons_are_camel_case_words() -> None:
    body = coderun()
    for error in ErrorType:
        doc = status.final(body, RunResult.failure(error, "why"), T0)
        succeeded = doc["conditions"][-1]
        assert succeeded["status"] == "False"
        assert succeeded["reason"].isalpha() and succeeded["reason"][0].isupper()
        assert doc["verdict"] == str(error)
        assert doc["phase"] == "Failed"


def test_transition_time_kept_when_status_unchanged() -> None:
    conds = status.set_condition([], "Scheduled", "False", "Queued", "wait", T0)
    again = status.set_condition(conds, "Scheduled", "False", "Queued", "still", T1)
    assert again[0]["lastTransitionTime"] == conds[0]["lastTransitionTime"]
    changed = status.set_condition(conds, "Scheduled", "True", "JobCreated", "go", T1)
    assert changed[0]["lastTransitionTime"] != conds[0]["lastTransitionTime"]


def _merge(status_doc: dict[str, object], patch: dict[str, object]) -> dict[str, object]:
    """What the API server keeps of a JSON merge patch of status: a null deletes."""
    merged = {**status_doc, **patch}
    return {key: value for key, value in merged.items() if value is not None}


def test_a_request_cut_short_queues_the_run_again_for_a_new_pod() -> None:
    body = coderun(name="run-a")
    body["status"] = status.claimed(body, "crpool-python-1a2b3c4d", "crpool-python-x", T0)
    assert r.lifecycle(body) == "active" and r.job_of(body) == "crpool-python-1a2b3c4d"
    patch = status.requeued(body, "cut short", T1)
    body["status"] = _merge(body["status"], patch)
    # Queued again, no pod of the old attempt left in status, and a new Job name for a cold
    # start: the old Job may still be going away when the new one is created.
    assert r.lifecycle(body) == "queued" and not r.is_running(body)
    for field in ("jobName", "podName", "start", "scheduledAt", "startedAt"):
        assert field not in body["status"], field
    assert r.attempt_of(body) == 1
    assert r.job_of(body) == r.job_name("run-a", 1) != r.job_name("run-a")
    reasons = {c["type"]: c["reason"] for c in body["status"]["conditions"]}
    assert reasons == {"Scheduled": "Redelivering", "Running": "Redelivering"}
    # A second cut counts on; the names stay distinct per attempt.
    body["status"] = _merge(body["status"], status.requeued(body, "again", T1))
    assert r.attempt_of(body) == 2 and r.job_of(body) == r.job_name("run-a", 2)


def test_a_pod_names_the_attempt_it_serves() -> None:
    body = coderun(name="run-b")
    assert r.pod_attempt({"metadata": {"annotations": {}}}) == 0  # pods made before attempts
    assert r.pod_attempt({"metadata": {"annotations": {r.ANNOTATION_ATTEMPT: "2"}}}) == 2
    # A value nobody wrote matches no attempt rather than the first.
    assert r.pod_attempt({"metadata": {"annotations": {r.ANNOTATION_ATTEMPT: "x"}}}) == -1
    assert r.attempt_of(body) == 0
