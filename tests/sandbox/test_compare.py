"""Judge mode's comparison modes and verdicts (coderun_sandbox.compare, .judge): pure."""

from __future__ import annotations

import pytest
from coderun_sandbox.compare import CompareMode, Tolerance, compare_output
from coderun_sandbox.contract import (
    CASES_STDERR_BUDGET_BYTES,
    CASES_STDOUT_BUDGET_BYTES,
    MAX_TEST_CASES,
    RESULT_KEY,
    CaseResult,
    CaseStatus,
    ErrorType,
    RunResult,
    Status,
    case_output_caps,
    log_line,
)
from coderun_sandbox.judge import JudgeOptions, credits_for, judge_cases, judge_result

EXACT, TRIMMED, TOKENS, FLOAT = (
    CompareMode.EXACT,
    CompareMode.TRIMMED,
    CompareMode.TOKENS,
    CompareMode.FLOAT,
)


@pytest.mark.parametrize(
    ("actual", "expected", "mode", "matched"),
    [
        ("1 2\n", "1 2\n", EXACT, True),
        ("1 2", "1 2\n", EXACT, False),  # a missing newline is a difference in exact mode
        ("1 2 \n", "1 2\n", EXACT, False),
        ("1 2  \r\n\n\n", "1 2", TRIMMED, True),  # trailing blanks, CRLF, blank lines
        ("1 2", "1 2\n", TRIMMED, True),
        (" 1 2", "1 2", TRIMMED, False),  # leading whitespace still counts
        ("1\n2", "1 2", TRIMMED, False),
        ("1\n\n2", "1\n2", TRIMMED, False),  # an inner blank line counts
        ("1\n2\t3  ", " 1 2 3", TOKENS, True),
        ("1 2 3", "1 2", TOKENS, False),
        ("0.3333333", "0.333333333", FLOAT, True),
        ("1e6", "1000000.0000001", FLOAT, True),
        ("0.34", "0.333", FLOAT, False),
        ("abc 1.0", "abc 1", FLOAT, True),  # words compare exactly, numbers by tolerance
        ("abd 1.0", "abc 1", FLOAT, False),
        ("nan", "nan", FLOAT, True),  # as text
        ("inf", "1e308", FLOAT, False),
    ],
)
def test_modes(actual: str, expected: str, mode: CompareMode, matched: bool) -> None:
    assert compare_output(actual, expected, mode).matched is matched


def test_float_tolerance_absolute_and_relative() -> None:
    loose = Tolerance(absolute=0.01, relative=0.0)
    assert compare_output("1.005", "1", FLOAT, loose).matched
    assert not compare_output("1.02", "1", FLOAT, loose).matched
    relative = Tolerance(absolute=0.0, relative=0.01)
    assert compare_output("1005", "1000", FLOAT, relative).matched  # 0.5 %
    assert not compare_output("1020", "1000", FLOAT, relative).matched  # 2 %
    assert not compare_output("0.001", "0", FLOAT, relative).matched  # relative to 0 is 0


def test_mismatch_names_the_place() -> None:
    comparison = compare_output("1\n2\n4\n", "1\n2\n3\n", TRIMMED)
    assert not comparison.matched
    assert comparison.detail == "line 3: expected '3', got '4'"
    assert "token 2" in compare_output("a b", "a c", TOKENS).detail


def _case(index: int, stdout: str, status: CaseStatus = CaseStatus.SUCCESS) -> CaseResult:
    return CaseResult(
        case_index=index,
        status=status,
        stdout=stdout,
        exit_code=0,
        execution_time_ms=10 + index,
        cpu_time_ms=5,
        memory_kb=1000 + index,
        error_type=None if status is CaseStatus.SUCCESS else ErrorType.TLE,
    )


def test_judging_sets_wrong_answer_and_the_top_level() -> None:
    options = JudgeOptions(expected=("1", "2", None, "4"))
    ran = RunResult(
        status=Status.SUCCESS,
        compile_time_ms=700,
        test_cases=(
            _case(0, "1\n"),
            _case(1, "3\n"),
            _case(2, "x"),
            _case(3, "", CaseStatus.FAILED),
        ),
    )
    judged = judge_result(ran, options)
    cases = judged.test_cases
    assert cases is not None
    assert [c.passed for c in cases] == [True, False, None, False]
    assert cases[1].error_type is ErrorType.WRONG_ANSWER
    assert judged.status is Status.FAILED
    assert judged.error_type is ErrorType.WRONG_ANSWER  # the first failing case's
    assert judged.error_message.startswith("case 1: wrong answer")
    assert judged.execution_time_ms == 10 + 11 + 12 + 13  # runTimeMs: the sum
    assert judged.memory_kb == 1003
    assert judged.compile_time_ms == 700
    assert credits_for(judged) == 2  # cases 0 and 2 succeeded; WA and TLE are free


def test_a_forged_pass_is_recomputed() -> None:
    forged = _case(0, "wrong").replace(passed=True)
    (judged,) = judge_cases([forged], JudgeOptions(expected=("right",)))
    assert judged.passed is False and judged.error_type is ErrorType.WRONG_ANSWER


def test_truncated_output_never_passes() -> None:
    cut = _case(0, "42").replace(stdout_truncated=True)
    (judged,) = judge_cases([cut], JudgeOptions(expected=("42",)))
    assert judged.error_type is ErrorType.WRONG_ANSWER


def test_stop_on_first_failure_skips_after_a_wrong_answer() -> None:
    cases = [_case(0, "1"), _case(1, "0"), _case(2, "3")]
    judged = judge_cases(cases, JudgeOptions(expected=("1", "2", "3"), stop_on_failure=True))
    assert [c.status for c in judged] == [CaseStatus.SUCCESS, CaseStatus.FAILED, CaseStatus.SKIPPED]
    assert judged[2].stdout == "" and judged[2].passed is None


def test_credits_without_cases() -> None:
    assert credits_for(RunResult(status=Status.SUCCESS)) == 1
    assert credits_for(RunResult.failure(ErrorType.TLE, "slow")) == 0


def test_case_caps_fit_the_log_read_for_64_cases() -> None:
    """The operator reads 1 MiB of the run container's log; every byte of output may grow
    to 6 (a control byte escaped as \\u00XX)."""
    stdout_cap, stderr_cap = case_output_caps(MAX_TEST_CASES)
    assert MAX_TEST_CASES * (stdout_cap + stderr_cap) * 6 <= 1024 * 1024 - 128 * 1024
    assert case_output_caps(1) == (64 * 1024, CASES_STDERR_BUDGET_BYTES)
    assert case_output_caps(2)[0] == CASES_STDOUT_BUDGET_BYTES // 2


def test_the_worst_result_line_of_64_cases_fits_the_log_read() -> None:
    """64 cases, each printing its caps full of control bytes (escaped to 6 bytes each),
    on the runner's result line as the pod prints it: still under the operator's 1 MiB."""
    stdout_cap, stderr_cap = case_output_caps(MAX_TEST_CASES)
    case = _case(0, "\x01" * stdout_cap).replace(
        stderr="\x01" * stderr_cap,
        error_message="x" * 200,
        stdout_truncated=True,
        stderr_truncated=True,
    )
    result = RunResult(
        status=Status.FAILED,
        error_message="m" * 1000,
        test_cases=tuple(case.replace(case_index=i) for i in range(MAX_TEST_CASES)),
    )
    line = log_line(RESULT_KEY, result.to_json_dict())
    assert len(line.encode()) < 1024 * 1024
