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
