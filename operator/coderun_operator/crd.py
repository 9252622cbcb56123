"""The CodeRun CustomResourceDefinition, generated from the shared contract.

    python -m coderun_operator.crd > crds/coderun.dev_coderuns.yaml

Languages, limits, sizes and verdicts come from `coderun_sandbox` (the contract the runner,
the API and the operator share); tests/operator/unit/test_crd.py fails when the committed
file and this generator disagree. Adding a language to the table means regenerating it.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    MAX_CODE_BYTES,
    MAX_INPUT_BYTES,
    MAX_MEMORY_LIMIT_MB,
    MAX_TIME_LIMIT_MS,
    MIN_MEMORY_LIMIT_MB,
    MIN_TIME_LIMIT_MS,
    ErrorType,
    Status,
)
from coderun_sandbox.languages import supported

from coderun_operator import resources as r
from coderun_operator import time_fields as t

CRD_FILE = "crds/coderun.dev_coderuns.yaml"


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def spec_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What to run. Immutable: create a new CodeRun to run something else.",
        "required": ["language", "code"],
        "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "spec is immutable"},
        ],
        "properties": {
            "language": _string("The language (a key of the language table).", enum=supported()),
            "code": _string(
                "The program's source. At most "
                f"{MAX_CODE_BYTES} bytes of UTF-8 (checked exactly by the operator).",
                minLength=1,
                maxLength=MAX_CODE_BYTES,
            ),
            "input": _string(
                f"Standard input for the program, at most {MAX_INPUT_BYTES} bytes of UTF-8.",
                maxLength=MAX_INPUT_BYTES,
                default="",
            ),
            "timeLimitMs": _int(
                t.TIME_LIMIT_MS,
                minimum=MIN_TIME_LIMIT_MS,
                maximum=MAX_TIME_LIMIT_MS,
                default=DEFAULT_TIME_LIMIT_MS,
            ),
            "memoryLimitMb": _int(
                "Memory limit of the program in MiB.",
                minimum=MIN_MEMORY_LIMIT_MB,
                maximum=MAX_MEMORY_LIMIT_MB,
                default=DEFAULT_MEMORY_LIMIT_MB,
            ),
            "account": _string(
                "Who the run is for: the operator's admission lets one account have at most "
                "MAX_RUNNING_PER_ACCOUNT runs at once and shares free slots in turn between "
                "accounts. Written by the API (a hash of its account id, as the "
                "coderun.dev/account label). CodeRuns without one share one account per "
                "namespace. Immutable.",
                minLength=1,
                maxLength=128,
                # The spec rule above already covers it (adding or removing it too); this
                # one names the field when only it changed.
                **{
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "spec.account is immutable"}
                    ]
                },
            ),
        },
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def result_schema() -> dict[str, Any]:
    """The seed API's result fields, as the runner reports them (RunResult.to_json_dict)."""
    return {
        "type": "object",
        "description": "The run's result, in the seed API's field names.",
        "properties": {
            "status": _string("success or failed.", enum=[str(s) for s in Status if s.is_final]),
            "stdout": _string("Standard output (capped)."),
            "stderr": _string("Standard error (capped)."),
            "exitCode": _nullable(_int("The program's exit code (128+signal if killed).")),
            "sandboxErrorType": _nullable(
                _string("Why it failed, if it did.", enum=[str(e) for e in ErrorType])
            ),
            "sandboxErrorMessage": _string("What happened, for a person."),
            "startedAt": _nullable(_string("When the program's run started.", format="date-time")),
            "finishedAt": _nullable(_string("When the program's run ended.", format="date-time")),
            # The runner's name for the run's own wall time, which the API serves as runTimeMs
            # (its executionTimeMs is the job's, compilation included).
            "executionTimeMs": _int(
                "The program's run alone (the API's runTimeMs). " + t.RUN_TIME_MS, minimum=0
            ),
            "cpuTimeMs": _nullable(_int(t.CPU_TIME_MS)),
            "memoryKb": _nullable(_int("Peak memory of the program's processes in KiB.")),
            "compileTimeMs": _nullable(_int(t.COMPILE_TIME_MS)),
            "stdoutTruncated": {"type": "boolean"},
            "stderrTruncated": {"type": "boolean"},
        },
    }


def status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": _string("Scheduled, Running or Succeeded.", maxLength=316),
            "status": _string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": _string("One CamelCase word.", maxLength=1024),
            "message": _string("For a person.", maxLength=32768),
            "lastTransitionTime": _string("When status last changed.", format="date-time"),
            "observedGeneration": _int("The generation this condition is about.", minimum=0),
        },
    }
    return {
        "type": "object",
        "description": "What the operator observed. Written only through /status.",
        "properties": {
            "phase": _string("Derived from the conditions, for display.", enum=list(r.PHASES)),
            "observedGeneration": _int("The spec generation last acted on.", minimum=0),
            "conditions": {
                "type": "array",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "verdict": _string("Success or the error type, once final.", enum=list(r.VERDICTS)),
            "jobName": _string("The Job that runs this CodeRun."),
            "podName": _string("The pod that ran the program."),
            "scheduledAt": _string("When the Job was created.", format="date-time"),
            "startedAt": _string(
                "When the sandbox started on the run, to the millisecond: the pod's first "
                "runner (the compile step for compiled languages) by its own clock; until the "
                "run is final, its first container's start, to the second. The API's "
                "startedAt: queueTimeMs ends and executionTimeMs begins here.",
                format="date-time",
            ),
            "finishedAt": _string("When the run became final.", format="date-time"),
            "result": result_schema(),
        },
    }


def crd() -> dict[str, Any]:
    columns = [
        {"name": "Language", "type": "string", "jsonPath": ".spec.language"},
        {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Verdict", "type": "string", "jsonPath": ".status.verdict"},
        {"name": "Exit", "type": "integer", "jsonPath": ".status.result.exitCode"},
        {
            "name": "Time(ms)",
            "type": "integer",
            "jsonPath": ".status.result.executionTimeMs",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Account", "type": "string", "priority": 1, "jsonPath": ".spec.account"},
        {
            "name": "Message",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Succeeded")].message',
        },
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{r.PLURAL}.{r.GROUP}",
            "labels": {"app.kubernetes.io/part-of": "coderun"},
        },
        "spec": {
            "group": r.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": r.KIND,
                "listKind": f"{r.KIND}List",
                "plural": r.PLURAL,
                "singular": r.SINGULAR,
                "shortNames": [r.SHORT_NAME],
                "categories": ["coderun"],
            },
            "versions": [
                {
                    "name": r.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": (
                                "One execution of untrusted code: the operator runs it in a "
                                "locked-down Job and records the verdict in status."
                            ),
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = (
    "# Generated by `python -m coderun_operator.crd` from the shared contract\n"
    "# (sandbox-images/runner/coderun_sandbox). Do not edit by hand.\n"
)


def render() -> str:
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
