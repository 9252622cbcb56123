"""Judge mode on the Kubernetes path, pure: the CodeRun the API makes carries the cases'
inputs and no expected output; the operator reads them into the pod's request, counts them
toward fair share, and gives the pod a deadline that covers them; the per-case results
survive the operator's classification into CodeRun status."""

from __future__ import annotations

import json

from coderun_api.executors.kubernetes import coderun_manifest
from coderun_api.judging import JudgeFields, job_columns, request_and_spec
from coderun_api.models import Job
from coderun_operator.job_builder import deadline_seconds, request_of
from coderun_operator.pod_verdict import classify_streamed
from coderun_operator.reconciler import run_ref
from coderun_operator.settings import OperatorSettings
from coderun_operator.status import final, result_of
from coderun_sandbox.contract import (
    MAX_CASES_WALL_MS,
    CaseResult,
    CaseStatus,
    RunLimits,
    RunResult,
    Status,
    utc_now,
)

from tests.operator.unit import factories


def _job_with_cases() -> Job:
    fields = JudgeFields.model_validate(
        {
            "testCases": [
                {"input": "1 2", "expectedOutput": "SECRET-3"},
                {"input": "3 4", "expectedOutput": "SECRET-7"},
            ],
            "stopOnFirstFailure": True,
            "commandLineArguments": ["-v"],
            "compilerOptions": ["-O0"],
        }
    )
    request, spec = request_and_spec("cpp", "int main(){}", "", fields)
    return Job(
        id="a" * 24, account_id=1, language="cpp", code="int main(){}", **job_columns(request, spec)
    )


def test_the_coderun_carries_inputs_and_never_an_expected_output() -> None:
    manifest = coderun_manifest(_job_with_cases(), "runs")
    spec = manifest["spec"]
    assert spec["testCases"] == [{"input": "1 2"}, {"input": "3 4"}]
    assert spec["stopOnFirstFailure"] is True
    assert spec["commandLineArguments"] == ["-v"] and spec["compilerOptions"] == ["-O0"]
    assert "SECRET" not in json.dumps(manifest)


def test_the_operator_reads_the_cases_weights_them_and_extends_the_deadline() -> None:
    body = factories.coderun(
        language="cpp",
        code="int main(){}",
        testCases=[{"input": "1"}, {"input": "2"}, {"input": "3"}],
        stopOnFirstFailure=True,
        commandLineArguments=["a"],
        compilerOptions=["-O3"],
    )
    request = request_of(body)
    assert request.cases == ("1", "2", "3") and request.stop_on_failure
    assert request.arguments == ("a",) and request.compiler_options == ("-O3",)
    assert run_ref(body).weight == 3
    assert run_ref(factories.coderun()).weight == 1
    settings = OperatorSettings()
    single = deadline_seconds(request._replace(cases=()), settings)
    many = deadline_seconds(request._replace(cases=("x",) * 64), settings)
    assert many - single >= MAX_CASES_WALL_MS // 1000


def test_case_results_survive_into_the_coderun_status_and_back() -> None:
    cases = (
        CaseResult(case_index=0, status=CaseStatus.SUCCESS, stdout="3\n", exit_code=0),
        CaseResult(case_index=1, status=CaseStatus.SKIPPED, error_message="skipped"),
    )
    line = factories.result_line(
        **RunResult(status=Status.SUCCESS, test_cases=cases).to_json_dict()
    )
    result = classify_streamed(line, RunLimits())
    assert result is not None and result.test_cases == cases
    body = factories.coderun()
    body["status"] = final(body, result, utc_now())
    back = result_of(body)
    assert back is not None and back.test_cases == cases
