"""Judge mode on the API's side: the submit fields, how a job row stores them, and the
trusted half of judging (expected outputs, comparison) that no sandbox ever sees.

The runner gets only the cases' inputs (RunRequest.cases); the expected outputs stay in
the job row, and `JobStore.finalize` judges a runner's result against them (locally, the
executor also judges each case as it ends, so stopOnFirstFailure stops at a wrong answer).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from coderun_sandbox.compare import (
    DEFAULT_ABSOLUTE_TOLERANCE,
    DEFAULT_RELATIVE_TOLERANCE,
    CompareMode,
    Tolerance,
)
from coderun_sandbox.contract import (
    MAX_TEST_CASES,
    CaseResult,
    RunRequest,
    case_output_caps,
)
from coderun_sandbox.judge import JudgeOptions
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from coderun_api.envelope import ApiError
from coderun_api.models import Job

# Above this a float comparison would accept nearly any number.
MAX_TOLERANCE = 1.0


class TestCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    input: StrictStr = Field(default="", description="The case's stdin.")
    expected_output: StrictStr | None = Field(
        default=None,
        alias="expectedOutput",
        description="What the program must print; never shown to the program. Omit it to "
        "run the case without a verdict on its output.",
    )


class ToleranceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    absolute: float = Field(default=DEFAULT_ABSOLUTE_TOLERANCE, ge=0, le=MAX_TOLERANCE)
    relative: float = Field(default=DEFAULT_RELATIVE_TOLERANCE, ge=0, le=MAX_TOLERANCE)


class JudgeFields(BaseModel):
    """The submit body's judge-mode fields (docs/api.md, "Test cases"); all optional."""

    model_config = ConfigDict(populate_by_name=True)

    test_cases: list[TestCaseIn] | None = Field(
        default=None,
        alias="testCases",
        description=f"1 to {MAX_TEST_CASES} cases: compiled once, each run in a fresh process.",
    )
    compare: CompareMode | None = Field(
        default=None, description="exact, trimmed (the default), tokens or float."
    )
    tolerance: ToleranceIn | None = Field(default=None, description="Only with compare=float.")
    stop_on_first_failure: StrictBool = Field(default=False, alias="stopOnFirstFailure")
    command_line_arguments: list[StrictStr] | None = Field(
        default=None, alias="commandLineArguments", description="argv after the program."
    )
    compiler_options: list[StrictStr] | None = Field(
        default=None,
        alias="compilerOptions",
        description="Options from the language's allowlist (GET /api/v1/languages).",
    )


@dataclass(frozen=True)
class JudgeSpec:
    """What the job row keeps of a judge-mode request beside the RunRequest."""

    expected: tuple[str | None, ...] = ()
    compare: CompareMode = CompareMode.TRIMMED
    tolerance: Tolerance | None = None


def request_and_spec(
    language: str, code: str, input_text: str, fields: JudgeFields
) -> tuple[RunRequest, JudgeSpec | None]:
    """The runner's request and the trusted side's spec for a submit body. Raises ApiError
    400 for a judge field that is inconsistent (the contract checks sizes and options)."""
    cases = fields.test_cases
    if cases is not None and not cases:
        raise ApiError(400, "testCases is empty; send 1 to 64 cases or omit the field")
    if cases is None and (
        fields.compare is not None or fields.tolerance is not None or fields.stop_on_first_failure
    ):
        raise ApiError(400, "compare, tolerance and stopOnFirstFailure need testCases")
    if fields.tolerance is not None and fields.compare is not CompareMode.FLOAT:
        raise ApiError(400, 'tolerance applies only with "compare": "float"')
    if cases is not None and input_text:
        raise ApiError(400, "send the input in each test case, not in `input`, with testCases")
    request = RunRequest(
        language=language,
        code=code,
        input=input_text,
        cases=tuple(case.input for case in cases or ()),
        stop_on_failure=fields.stop_on_first_failure,
        arguments=tuple(fields.command_line_arguments or ()),
        compiler_options=tuple(fields.compiler_options or ()),
    )
    if cases is None:
        return request, None
    if len(cases) > MAX_TEST_CASES:
        raise ApiError(400, f"testCases has {len(cases)} cases; at most {MAX_TEST_CASES}")
    stdout_cap, _ = case_output_caps(len(cases))
    for index, case in enumerate(cases):
        expected = case.expected_output
        size = len(expected.encode("utf-8", "surrogatepass")) if expected is not None else 0
        if size > stdout_cap:
            raise ApiError(
                400,
                f"testCases[{index}].expectedOutput is {size} bytes; with {len(cases)} cases "
                f"each case's output is kept up to {stdout_cap} bytes, so it could never "
                "match: send fewer cases or a shorter expected output",
            )
    tolerance = None
    if fields.compare is CompareMode.FLOAT:
        given = fields.tolerance or ToleranceIn()
        if not (math.isfinite(given.absolute) and math.isfinite(given.relative)):
            raise ApiError(400, "tolerance must be finite numbers")
        tolerance = Tolerance(absolute=given.absolute, relative=given.relative)
    spec = JudgeSpec(
        expected=tuple(case.expected_output for case in cases),
        compare=fields.compare or CompareMode.TRIMMED,
        tolerance=tolerance,
    )
    return request, spec


def fingerprint_parts(request: RunRequest, spec: JudgeSpec | None) -> list[Any]:
    """What an Idempotency-Key replay must repeat: the v1 API's three fields (language, code,
    input), and the judge fields only when given, so a plain request's fingerprint does not
    depend on them."""
    parts: list[Any] = [request.language, request.code, request.input]
    extra = {
        "cases": list(request.cases),
        "stop": request.stop_on_failure,
        "args": list(request.arguments),
        "options": list(request.compiler_options),
    }
    if spec is not None:
        extra |= {
            "expected": list(spec.expected),
            "compare": str(spec.compare),
            "tolerance": list(spec.tolerance) if spec.tolerance else None,
        }
    if spec is not None or request.arguments or request.compiler_options:
        parts.append(extra)
    return parts


def job_columns(request: RunRequest, spec: JudgeSpec | None) -> dict[str, Any]:
    """The job row's judge columns for an accepted request."""
    columns: dict[str, Any] = {
        "command_line_arguments": json.dumps(list(request.arguments))
        if request.arguments
        else None,
        "compiler_options": json.dumps(list(request.compiler_options))
        if request.compiler_options
        else None,
        "stop_on_first_failure": request.stop_on_failure,
        "weight": max(1, len(request.cases)),
    }
    if spec is not None:
        cases = [
            {"input": text, "expectedOutput": expected}
            for text, expected in zip(request.cases, spec.expected, strict=True)
        ]
        columns |= {
            "test_cases": json.dumps(cases, ensure_ascii=False),
            "compare_mode": str(spec.compare),
            "tolerance_absolute": spec.tolerance.absolute if spec.tolerance else None,
            "tolerance_relative": spec.tolerance.relative if spec.tolerance else None,
            "test_cases_total": len(cases),
        }
    return columns


def _cases_of(job: Job) -> list[dict[str, Any]]:
    loaded = json.loads(job.test_cases) if job.test_cases else []
    return [dict(case) for case in loaded if isinstance(case, dict)]


def _strings(text: str | None) -> tuple[str, ...]:
    loaded = json.loads(text) if text else []
    return tuple(str(item) for item in loaded)


def request_of(job: Job) -> RunRequest:
    """The runner's request for a job: the cases' inputs only, never their expected
    outputs."""
    return RunRequest(
        language=job.language,
        code=job.code,
        input=job.input,
        cases=tuple(str(case.get("input") or "") for case in _cases_of(job)),
        stop_on_failure=job.stop_on_first_failure,
        arguments=_strings(job.command_line_arguments),
        compiler_options=_strings(job.compiler_options),
    )


def judge_options(job: Job) -> JudgeOptions | None:
    """What the trusted side judges a job's cases by; None for a job without cases."""
    if not job.test_cases:
        return None
    tolerance = None
    if job.tolerance_absolute is not None and job.tolerance_relative is not None:
        tolerance = Tolerance(absolute=job.tolerance_absolute, relative=job.tolerance_relative)
    expected = []
    for case in _cases_of(job):
        value = case.get("expectedOutput")
        expected.append(value if isinstance(value, str) else None)
    return JudgeOptions(
        expected=tuple(expected),
        mode=CompareMode(job.compare_mode or CompareMode.TRIMMED),
        tolerance=tolerance,
        stop_on_failure=job.stop_on_first_failure,
    )


def cases_json(cases: tuple[CaseResult, ...]) -> str:
    return json.dumps([case.to_json_dict() for case in cases], ensure_ascii=False)


def case_results(job: Job) -> list[dict[str, Any]] | None:
    """The final per-case results as the API answers them (None while not final)."""
    if not job.case_results:
        return None
    loaded = json.loads(job.case_results)
    return [dict(item) for item in loaded if isinstance(item, dict)]
