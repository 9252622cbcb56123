"""One record per run in the Reconciler (run_state.py): a final run keeps only that it is
done, so its pods' events are ignored, and its CodeRun's deletion forgets it in one pop."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, cast

from coderun_operator import resources as r
from coderun_operator.kube import Kube
from coderun_operator.reconciler import Reconciler
from coderun_operator.run_state import RunState
from coderun_operator.settings import OperatorSettings

from tests.operator.unit.factories import coderun, pod, terminated


class NoKube:
    """Stands in for the Kubernetes client where the steps tested must make no request at
    all: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the reconciler called the Kubernetes API ({name})")


def _final(body: dict[str, Any]) -> dict[str, Any]:
    done = copy.deepcopy(body)
    done["status"] = {
        "conditions": [{"type": r.COND_SUCCEEDED, "status": "True", "reason": "Success"}]
    }
    return done


def _pod_of(body: dict[str, Any]) -> dict[str, Any]:
    found = pod(phase="Succeeded", run_state=terminated())
    found["metadata"]["annotations"][r.ANNOTATION_CODERUN_UID] = body["metadata"]["uid"]
    return found


def test_requeue_keeps_the_body_and_drops_what_the_old_pod_set_in_motion() -> None:
    state = RunState(body={"metadata": {}}, pod={"metadata": {}})
    state.marked_queued = state.marked_running = state.following = state.fresh = True
    lock = state.lock
    state.requeue()
    assert state == RunState(lock=lock, body={"metadata": {}})
    state.finish()
    assert state == RunState(lock=lock, done=True)


def test_a_final_run_ignores_its_pods_and_its_deletion_forgets_it() -> None:
    async def scenario() -> None:
        reconciler = Reconciler(OperatorSettings(), cast(Kube, NoKube()))
        body = coderun()
        key = r.key_of("runs", "abc123", "uid-abc123")
        index: dict[str, list[Any]] = {}
        await reconciler.on_coderun("ADDED", body, index)
        assert reconciler.runs[key].body == body
        await reconciler.on_coderun("MODIFIED", _final(body), index)
        assert reconciler.runs[key].done and reconciler.runs[key].body is None
        # Classifying this pod would read its log: a final run's pod is not looked at.
        await reconciler.on_pod("MODIFIED", _pod_of(body))
        assert reconciler.runs[key].pod is None
        await reconciler.on_coderun("DELETED", _final(body), index)
        assert reconciler.runs == {}

    asyncio.run(scenario())
