"""Judge mode's verdicts: a case against its expected output, and the submission as a whole.

Pure functions. `judge_case` and `judge_result` run on the trusted side only: in the API
process, after the case's process has ended, with expected outputs that never entered a
sandbox (docs/security.md). `summarize` is also the runner's, for the top-level fields of a
result with cases (docs/api.md, "The submission as a whole"):

- `status` is success only when every case succeeded;
- `sandboxErrorType`/`sandboxErrorMessage` are those of the first failing case (WrongAnswer
  included), `exitCode` that case's (else the last case's);
- the program's run time (`runTimeMs`) and CPU time are the sums over the cases, memory the
  highest case's peak; stdout and stderr live in the cases (the top level keeps them empty);
- `compileTimeMs`, `startedAt`, `finishedAt` are the submission's, so executionTimeMs and
  totalTimeMs keep the arithmetic of docs/api.md.
"""

from __future__ import annotations

from .compare import CompareMode, Tolerance, compare_output
from .contract import CaseResult, CaseStatus, ErrorType, RunResult, Status
from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SKIPPED_AFTER_FAILURE = "skipped: an earlier case failed and stopOnFirstFailure is set"
NOT_COMPILED = "not run: the program did not compile"
NOT_STARTED = "not run: the submission failed before its cases"


class JudgeOptions(Record):
    """What the trusted side judges the cases by (from the job row, never from a sandbox)."""

    expected: tuple[str | None, ...]
    mode: CompareMode = CompareMode.TRIMMED
    tolerance: Tolerance | None = None
    stop_on_failure: bool = False


def judge_case(case: CaseResult, options: JudgeOptions) -> CaseResult:
    """The case's verdict once compared with its expected output (if it has one).

    Whatever `passed` the case arrived with is recomputed: only this side knows the answer.
    """
    if case.status is CaseStatus.SKIPPED:
        return case.replace(passed=None)
    expected = (
        options.expected[case.case_index] if case.case_index < len(options.expected) else None
    )
    if expected is None:
        return case.replace(passed=None)
    if case.status is not CaseStatus.SUCCESS:
        return case.replace(passed=False)
    if case.stdout_truncated:
        return case.replace(
            status=CaseStatus.FAILED,
            error_type=ErrorType.WRONG_ANSWER,
            error_message="wrong answer: the output was longer than this case's output cap",
            passed=False,
        )
    comparison = compare_output(case.stdout, expected, options.mode, options.tolerance)
    if comparison.matched:
        return case.replace(passed=True)
    return case.replace(
        status=CaseStatus.FAILED,
        error_type=ErrorType.WRONG_ANSWER,
        error_message=f"wrong answer ({options.mode} comparison): {comparison.detail}",
        passed=False,
    )


def judge_cases(cases: Sequence[CaseResult], options: JudgeOptions) -> tuple[CaseResult, ...]:
    """Every case judged; with stop_on_failure, those after the first failure skipped
    (where the runner could not stop itself: it does not know a wrong answer)."""
    judged: list[CaseResult] = []
    failed = False
    for case in cases:
        if failed and options.stop_on_failure:
            judged.append(CaseResult.skipped(case.case_index, SKIPPED_AFTER_FAILURE))
            continue
        verdict = judge_case(case, options)
        failed = failed or verdict.status is CaseStatus.FAILED
        judged.append(verdict)
    return tuple(judged)


def summarize(result: RunResult, cases: Sequence[CaseResult]) -> RunResult:
    """`result` (the submission's times and compile step) with the top level set from its
    cases, and the cases attached."""
    ran = [case for case in cases if case.status is not CaseStatus.SKIPPED]
    failure = next((case for case in cases if case.status is CaseStatus.FAILED), None)
    success = bool(cases) and all(case.status is CaseStatus.SUCCESS for case in cases)
    if failure is not None:
        error_type, message = (
            failure.error_type,
            f"case {failure.case_index}: {failure.error_message}",
        )
        exit_code = failure.exit_code
    elif success:
        error_type, message = None, ""
        exit_code = ran[-1].exit_code if ran else None
    else:  # nothing failed, yet not all succeeded: cases skipped with no failure before
        error_type, message = ErrorType.INTERNAL_ERROR, "not every case ran"
        exit_code = None
    peaks = [case.memory_kb for case in ran if case.memory_kb is not None]
    return result.replace(
        status=Status.SUCCESS if success else Status.FAILED,
        error_type=error_type,
        error_message=message,
        exit_code=exit_code,
        stdout="",
        stderr="",
        stdout_truncated=False,
        stderr_truncated=False,
        execution_time_ms=sum(case.execution_time_ms or 0 for case in ran),
        cpu_time_ms=sum(case.cpu_time_ms or 0 for case in ran),
        memory_kb=max(peaks) if peaks else None,
        test_cases=tuple(cases),
    )


def judge_result(result: RunResult, options: JudgeOptions) -> RunResult:
    """A runner's result with cases, judged and summarized; a result without cases (the
    runner failed before any case, e.g. a SandboxError) gets every case skipped."""
    if result.test_cases is None:
        why = NOT_COMPILED if result.error_type is ErrorType.COMPILATION_ERROR else NOT_STARTED
        skipped = tuple(CaseResult.skipped(index, why) for index in range(len(options.expected)))
        return result.replace(test_cases=skipped)
    if result.error_type is ErrorType.COMPILATION_ERROR:
        return result
    return summarize(result, judge_cases(result.test_cases, options))


def credits_for(result: RunResult) -> int:
    """What a final result costs: one credit per successful case, or 1 for a successful run
    without cases. WrongAnswer, TLE, MLE, compile and runtime errors are free."""
    if result.test_cases is None:
        return 1 if result.status is Status.SUCCESS else 0
    return sum(1 for case in result.test_cases if case.status is CaseStatus.SUCCESS)
