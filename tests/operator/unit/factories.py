"""Factories for CodeRun and pod documents as the API server returns them."""

from __future__ import annotations

import json
from typing import Any

from coderun_operator import resources as r
from coderun_sandbox.contract import RESULT_KEY


def coderun(
    name: str = "abc123",
    language: str = "python",
    code: str = "print('hi')\n",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {
            "name": name,
            "namespace": "runs",
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": "7",
            "creationTimestamp": "2026-11-28T10:00:00Z",
        },
        "spec": {"language": language, "code": code, **spec},
    }


def result_line(**fields: Any) -> str:
    data = {
        "status": "success",
        "stdout": "hi\n",
        "stderr": "",
        "exitCode": 0,
        "sandboxErrorType": None,
        "sandboxErrorMessage": "",
        "startedAt": "2026-11-28T10:00:02.000Z",
        "finishedAt": "2026-11-28T10:00:02.050Z",
        "executionTimeMs": 50,
        "cpuTimeMs": 20,
        "memoryKb": 9000,
        "compileTimeMs": None,
        "stdoutTruncated": False,
        "stderrTruncated": False,
    }
    data.update(fields)
    return json.dumps({RESULT_KEY: data})


def terminated(exit_code: int = 0, reason: str = "Completed", message: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": "2026-11-28T10:00:02Z",
        "finishedAt": "2026-11-28T10:00:03Z",
    }
    if message:
        state["message"] = message
    return {"terminated": state}


def pod(
    *,
    phase: str = "Pending",
    compile_state: dict[str, Any] | None = None,
    run_state: dict[str, Any] | None = None,
    reason: str | None = None,
    conditions: list[dict[str, Any]] | None = None,
    created: str = "2026-11-28T10:00:01Z",
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if reason:
        status["reason"] = reason
        status["message"] = f"Pod was active on the node longer than specified deadline ({reason})"
    if compile_state is not None:
        status["initContainerStatuses"] = [
            {
                "name": r.COMPILE_CONTAINER,
                "image": "coderun-sandbox-python:dev",
                "state": compile_state,
            }
        ]
    if run_state is not None:
        status["containerStatuses"] = [
            {"name": r.RUN_CONTAINER, "image": "coderun-sandbox-python:dev", "state": run_state}
        ]
    return {
        "metadata": {
            "name": "crun-abc123-x7k2p",
            "namespace": "runs",
            "creationTimestamp": created,
            "annotations": {r.ANNOTATION_CODERUN: "abc123"},
        },
        "status": status,
    }
