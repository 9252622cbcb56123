"""The CodeRun and CodeRunPool CustomResourceDefinitions, generated from the shared contract.

    python -m coderun_operator.crd > crds/coderun.dev_coderuns.yaml
    python -m coderun_operator.crd pools > crds/coderun.dev_coderunpools.yaml

Languages, limits, sizes and verdicts come from `coderun_sandbox` (the contract the runner,
the API and the operator share); tests/operator/unit/test_crd.py fails when the committed
file and this generator disagree. Adding a language to the table means regenerating it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import yaml
from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    MAX_ARGUMENT_BYTES,
    MAX_ARGUMENTS,
    MAX_CODE_BYTES,
    MAX_COMPILER_OPTIONS,
    MAX_INPUT_BYTES,
    MAX_MEMORY_LIMIT_MB,
    MAX_TEST_CASES,
    MAX_TIME_LIMIT_MS,
    MIN_MEMORY_LIMIT_MB,
    MIN_TIME_LIMIT_MS,
    CaseStatus,
    ErrorType,
    Status,
)
from coderun_sandbox.languages import supported

from coderun_operator import pools
from coderun_operator import resources as r
from coderun_operator import time_fields as t
from coderun_operator.job_builder import DEFAULT_MAX_IDLE_SECONDS

CRD_FILE = "crds/coderun.dev_coderuns.yaml"
POOL_CRD_FILE = "crds/coderun.dev_coderunpools.yaml"


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def _column(name: str, type_: str, json_path: str, *, wide: bool = False) -> dict[str, Any]:
    """A column of `kubectl get`; a wide one (priority 1) shows only with `-o wide`."""
    return {"name": name, "type": type_, **({"priority": 1} if wide else {}), "jsonPath": json_path}


def _printer_columns(
    *columns: dict[str, Any], wide: Sequence[dict[str, Any]] = (), summary: str
) -> list[dict[str, Any]]:
    """The `kubectl get` columns of one of our kinds: its language, `columns` and its age;
    with `-o wide` also the `wide` ones and the message of its `summary` condition."""
    message = f'.status.conditions[?(@.type=="{summary}")].message'
    return [
        _column("Language", "string", ".spec.language"),
        *columns,
        _column("Age", "date", ".metadata.creationTimestamp"),
        *wide,
        _column("Message", "string", message, wide=True),
    ]


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
            **judge_spec_properties(),
        },
    }


def judge_spec_properties() -> dict[str, Any]:
    """Judge mode (docs/api.md, "Test cases"): the cases' inputs, never their expected
    outputs, which only the API holds and judges by."""
    return {
        "testCases": {
            "type": "array",
            "description": "Test cases: the program is compiled once and run once per case, "
            "each in a fresh process and work dir, on the case's input.",
            "maxItems": MAX_TEST_CASES,
            "items": {
                "type": "object",
                "properties": {
                    "input": _string(
                        f"The case's stdin, at most {MAX_INPUT_BYTES} bytes of UTF-8.",
                        maxLength=MAX_INPUT_BYTES,
                    )
                },
            },
        },
        "stopOnFirstFailure": {
            "type": "boolean",
            "description": "Skip the cases after the first that fails.",
        },
        "commandLineArguments": {
            "type": "array",
            "description": "argv after the program.",
            "maxItems": MAX_ARGUMENTS,
            "items": _string("One argument.", maxLength=MAX_ARGUMENT_BYTES),
        },
        "compilerOptions": {
            "type": "array",
            "description": "Compiler options from the language table's allowlist (checked "
            "exactly by the operator).",
            "maxItems": MAX_COMPILER_OPTIONS,
            "items": _string("One option.", maxLength=64),
        },
    }


def case_result_schema() -> dict[str, Any]:
    """One test case's run as the runner reports it (CaseResult.to_json_dict)."""
    return {
        "type": "object",
        "properties": {
            "index": _int("The case's place in spec.testCases.", minimum=0),
            "status": _string("success, failed or skipped.", enum=[str(s) for s in CaseStatus]),
            "sandboxErrorType": _nullable(
                _string("Why it failed.", enum=[str(e) for e in ErrorType])
            ),
            "sandboxErrorMessage": _string("What happened, for a person."),
            "stdout": _string("Standard output (capped per case)."),
            "stderr": _string("Standard error (capped per case)."),
            "stdoutTruncated": {"type": "boolean"},
            "stderrTruncated": {"type": "boolean"},
            "exitCode": _nullable(_int("The case's exit code.")),
            "executionTimeMs": _nullable(_int("The case's run time.", minimum=0)),
            "cpuTimeMs": _nullable(_int("The case's CPU time.", minimum=0)),
            "memoryKb": _nullable(_int("The case's peak memory in KiB.", minimum=0)),
            "passed": _nullable(
                {"type": "boolean", "description": "Set by the API only (null here)."}
            ),
        },
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def result_schema() -> dict[str, Any]:
    """The result fields of the v1 API (docs/api.md), as the runner reports them
    (RunResult.to_json_dict)."""
    return {
        "type": "object",
        "description": "The run's result, with the field names of the CodeRun REST API (/api/v1).",
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
            "testCases": {
                "type": "array",
                "description": "Judge mode: each case's run, in order. The sandbox knows no "
                "expected output: the API judges these (WrongAnswer, passed).",
                "maxItems": MAX_TEST_CASES,
                "items": case_result_schema(),
            },
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
            "jobName": _string(
                "The Job that runs this CodeRun: its own (cold start), or the pool Job it "
                "claimed (warm start)."
            ),
            "podName": _string("The pod that ran the program."),
            "start": _string(
                "warm: it ran on a claimed pool pod (CodeRunPool) that was already past its "
                "start; cold: on a Job made for it (no pool pod ready, a language without a "
                "pool, or limits other than the promised ones).",
                enum=[r.START_WARM, r.START_COLD],
            ),
            "scheduledAt": _string("When the Job was created.", format="date-time"),
            "startedAt": _string(
                "When the sandbox started on the run, to the millisecond: the pod's first "
                "runner (the compile step for compiled languages) by its own clock; until the "
                "run is final, its first container's start, to the second. The API's "
                "startedAt: queueTimeMs ends and executionTimeMs begins here.",
                format="date-time",
            ),
            "finishedAt": _string("When the run became final.", format="date-time"),
            "redeliveries": {
                "type": "integer",
                "minimum": 0,
                "description": "How many times the request was delivered again on a new pod "
                "because its delivery was cut short (the operator died while writing it): "
                "nothing of the program ran on the earlier pods.",
            },
            "result": result_schema(),
        },
    }


def crd() -> dict[str, Any]:
    columns = _printer_columns(
        _column("Status", "string", ".status.phase"),
        _column("Verdict", "string", ".status.verdict"),
        _column("Exit", "integer", ".status.result.exitCode"),
        _column("Time(ms)", "integer", ".status.result.executionTimeMs"),
        _column("Start", "string", ".status.start"),
        wide=[
            _column("Account", "string", ".spec.account", wide=True),
            _column("Pod", "string", ".status.podName", wide=True),
        ],
        summary=r.COND_SUCCEEDED,
    )
    return _definition(
        r.KIND,
        r.PLURAL,
        r.SINGULAR,
        r.SHORT_NAME,
        description=(
            "One execution of untrusted code: the operator runs it in a "
            "locked-down Job and records the verdict in status."
        ),
        spec=spec_schema(),
        status=status_schema(),
        columns=columns,
        subresources={"status": {}},
    )


def pool_crd() -> dict[str, Any]:
    """CodeRunPool: warm, single-use sandbox pods of one language (pool_controller.py)."""
    condition = status_schema()["properties"]["conditions"]
    spec = {
        "type": "object",
        "description": "How many idle pods to keep, of which language, for how long.",
        "required": ["language", "replicas"],
        "properties": {
            "language": _string(
                "The language its pods run (a key of the language table). Immutable.",
                enum=supported(),
                **{
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "spec.language is immutable"}
                    ]
                },
            ),
            "replicas": _int(
                "Idle pods to keep ready. Each run of this language with the promised limits "
                "claims one (and a replacement starts at once); with none ready it starts "
                "cold. The scale subresource sets it (kubectl scale, an HPA, KEDA).",
                minimum=0,
                maximum=pools.MAX_REPLICAS,
            ),
            "maxIdleSeconds": _int(
                "An idle pod older than this is replaced, so that image and setting changes "
                "roll out.",
                minimum=pools.MIN_MAX_IDLE_SECONDS,
                maximum=pools.MAX_MAX_IDLE_SECONDS,
                default=DEFAULT_MAX_IDLE_SECONDS,
            ),
        },
    }
    status = {
        "type": "object",
        "description": "What the operator observed. Written only through /status.",
        "properties": {
            "replicas": _int("Pods that exist and are not claimed (ready + starting).", minimum=0),
            "ready": _int("Idle pods whose containers wait for a run.", minimum=0),
            "starting": _int("Idle pods still starting (or Jobs without a pod yet).", minimum=0),
            "claimed": _int("Pods claimed by runs since the pool was created.", minimum=0),
            "selector": _string("Label selector of the pool's idle pods (for the scale API)."),
            "observedGeneration": _int("The spec generation last acted on.", minimum=0),
            "conditions": condition,
        },
    }
    columns = _printer_columns(
        _column("Desired", "integer", ".spec.replicas"),
        _column("Ready", "integer", ".status.ready"),
        _column("Starting", "integer", ".status.starting"),
        _column("Claimed", "integer", ".status.claimed"),
        summary="Ready",
    )
    return _definition(
        r.POOL_KIND,
        r.POOL_PLURAL,
        r.POOL_SINGULAR,
        r.POOL_SHORT_NAME,
        description=(
            "Warm, single-use sandbox pods of one language, in the "
            "namespace of the CodeRuns they serve: each is a CodeRun's "
            "locked-down Job made ahead, past its start, waiting for one "
            "run, and deleted after it."
        ),
        spec=spec,
        status=status,
        columns=columns,
        subresources={
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
    )


def _definition(
    kind: str,
    plural: str,
    singular: str,
    short_name: str,
    *,
    description: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    subresources: dict[str, Any],
) -> dict[str, Any]:
    """The CustomResourceDefinition of one of our kinds: namespaced, one version served and
    stored, `spec` required, `status` written only through the status subresource."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{r.GROUP}",
            "labels": {"app.kubernetes.io/part-of": "coderun"},
        },
        "spec": {
            "group": r.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": [short_name],
                "categories": [r.CATEGORY],
            },
            "versions": [
                {
                    "name": r.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": subresources,
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
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
POOL_HEADER = HEADER.replace("coderun_operator.crd`", "coderun_operator.crd pools`")


def render() -> str:
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=100)


def render_pools() -> str:
    return POOL_HEADER + yaml.safe_dump(pool_crd(), sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render_pools() if sys.argv[1:] == ["pools"] else render())
