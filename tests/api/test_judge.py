"""Judge mode through REST on the embedded executor: test cases, comparison modes, the
top-level fields, credits, stopOnFirstFailure, fresh work dirs, and secret expected outputs.

Real app, real runner (bubblewrap sandboxes), real g++ and python; no fakes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.helpers import Api
from tests.utils.judge_programs import (
    CPP_SUM,
    PY_ACTIONS,
    PY_ECHO,
    SECRET_HUNTER,
    SECRET_PREFIX,
    STOP_AT_WRONG_ANSWER,
    hunter_cases,
    ten_sum_cases,
)

SUBMIT = "/api/v1/runner/submit"


def submit(api: Api, key: str, body: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = api.client.post(SUBMIT, json=body, headers={"X-API-KEY": key})
    return response


def judged(api: Api, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = submit(api, key, body)
    assert response.status_code == 200, response.text
    return api.wait_final(key, response.json()["data"]["jobId"])


def _ms(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_top_level_arithmetic(data: dict[str, Any]) -> None:
    """runTimeMs is the cases' sum; executionTimeMs and totalTimeMs keep the v1 API's
    arithmetic (from the millisecond timestamps the client sees)."""
    ran = [c for c in data["testCases"] if c["status"] != "skipped"]
    assert data["runTimeMs"] == sum(c["executionTimeMs"] or 0 for c in ran)
    started, finished, queued = (
        _ms(data["startedAt"]),
        _ms(data["finishedAt"]),
        _ms(data["queuedAt"]),
    )
    assert data["executionTimeMs"] == round((finished - started).total_seconds() * 1000)
    assert data["queueTimeMs"] == round((started - queued).total_seconds() * 1000)
    assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"]


def test_cpp_ten_cases_eight_right_two_wrong(api: Api) -> None:
    account_id, key = api.new_account(credits=20)
    data = judged(api, key, {"code": CPP_SUM, "language": "cpp", "testCases": ten_sum_cases()})
    cases = data["testCases"]
    assert [c["index"] for c in cases] == list(range(10))
    assert [c["passed"] for c in cases] == [i not in (3, 7) for i in range(10)]
    assert [c["sandboxErrorType"] for c in cases] == [
        "WrongAnswer" if i in (3, 7) else None for i in range(10)
    ]
    assert all(c["stdout"] == f"{2 * c['index'] + 1}\n" for c in cases)
    assert (data["testCasesPassed"], data["testCasesTotal"]) == (8, 10)
    # Compiled once: one compile time, for the submission; the cases have none.
    assert isinstance(data["compileTimeMs"], int) and data["compileTimeMs"] > 0
    assert all("compileTimeMs" not in c for c in cases)
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == "WrongAnswer"  # the first failing case's
    assert data["sandboxErrorMessage"].startswith("case 3: wrong answer")
    assert (data["stdout"], data["stderr"]) == ("", "")
    assert_top_level_arithmetic(data)
    # One credit per successful case; the two wrong answers are free; nothing reserved.
    account = api.account(account_id)
    assert (account.credits, account.credits_used) == (12, 8)
    assert api.job(data["jobId"]).credits_charged == 8


def test_five_credits_cannot_reserve_ten_cases(any_db_api: Api) -> None:
    """On SQLite and on PostgreSQL (the reservation is one SUM under the account's lock)."""
    api = any_db_api
    account_id, key = api.new_account(credits=5)
    body = {"code": CPP_SUM, "language": "cpp", "testCases": ten_sum_cases()}
    refused = submit(api, key, body)
    assert refused.status_code == 402
    message = refused.json()["message"]
    assert "10 test cases reserve 10 credits" in message and "5 are available" in message
    assert api.account(account_id).credits == 5
    # Five cases fit exactly; four succeed (case 3 expects a wrong sum), so four are charged
    # and the fifth credit's reservation is released when the job ends.
    data = judged(api, key, {**body, "testCases": ten_sum_cases()[:5]})
    assert data["testCasesPassed"] == 4
    assert api.account(account_id).credits == 1
    short = submit(api, key, {**body, "testCases": ten_sum_cases()[:2]})
    assert short.status_code == 402 and "1 are available" in short.json()["message"]
    assert submit(api, key, {**body, "testCases": ten_sum_cases()[:1]}).status_code == 200


def test_reservation_counts_other_runs_in_flight(api: Api) -> None:
    """10 credits, one 8-case submission running: a 3-case one is refused (10 - 8 < 3)
    until the first ends, and then only what was charged is gone."""
    account_id, key = api.new_account(credits=10)
    slow = {
        "code": "import time\ntime.sleep(0.5)\nprint('ok')",
        "language": "python",
        "testCases": [{"input": "", "expectedOutput": "ok"}] * 8,
    }
    first = submit(api, key, slow)
    assert first.status_code == 200
    three = {**slow, "testCases": slow["testCases"][:3]}
    refused = submit(api, key, three)
    assert refused.status_code == 402, refused.text
    assert "2 are available" in refused.json()["message"]
    api.wait_final(key, first.json()["data"]["jobId"], rounds=12)
    assert api.account(account_id).credits == 2
    assert submit(api, key, {**slow, "testCases": slow["testCases"][:2]}).status_code == 200


def test_a_tle_case_does_not_stop_the_others_unless_asked(api: Api) -> None:
    _, key = api.new_account(credits=20)
    cases = [{"input": "spin"}, {"input": "x", "expectedOutput": "clean"}, {"input": "y"}]
    data = judged(api, key, {"code": PY_ACTIONS, "language": "python", "testCases": cases})
    statuses = [(c["status"], c["sandboxErrorType"], c["passed"]) for c in data["testCases"]]
    assert statuses == [("failed", "TLE", None), ("success", None, True), ("success", None, None)]
    assert data["sandboxErrorType"] == "TLE" and data["testCasesPassed"] == 1
    stopped = judged(
        api,
        key,
        {"code": PY_ACTIONS, "language": "python", "testCases": cases, "stopOnFirstFailure": True},
    )
    assert [c["status"] for c in stopped["testCases"]] == ["failed", "skipped", "skipped"]
    skipped = stopped["testCases"][1]
    assert skipped["passed"] is None and skipped["stdout"] == "" and skipped["exitCode"] is None
    assert_top_level_arithmetic(stopped)


def test_stop_on_first_failure_stops_at_a_wrong_answer(api: Api) -> None:
    account_id, key = api.new_account(credits=10)
    data = judged(api, key, STOP_AT_WRONG_ANSWER)
    assert [c["status"] for c in data["testCases"]] == ["success", "failed", "skipped"]
    assert data["testCases"][1]["sandboxErrorType"] == "WrongAnswer"
    assert api.account(account_id).credits == 9


def test_an_mle_case_does_not_affect_the_next(api: Api) -> None:
    _, key = api.new_account(credits=10)
    cases = [{"input": "big"}, {"input": "medium"}, {"input": "medium"}]
    data = judged(api, key, {"code": PY_ACTIONS, "language": "python", "testCases": cases})
    big, after, again = data["testCases"]
    assert big["sandboxErrorType"] == "MLE"
    assert after["status"] == again["status"] == "success", after
    assert after["stdout"].startswith(str(150 * 1024 * 1024))
    # Each case's peak is its own: the next one's is not the 256 MB the first reached.
    assert after["memoryKb"] < 256 * 1024


def test_a_case_never_sees_files_an_earlier_case_wrote(api: Api) -> None:
    """Decided: no. Each case starts in a fresh work dir (and a fresh /tmp) holding only
    the program, so what one case leaves is neither visible to nor charged to the next."""
    _, key = api.new_account(credits=10)
    cases = [
        {"input": "write", "expectedOutput": "saw left.txt /tmp/left.txt /work/left-home.txt"},
        {"input": "check", "expectedOutput": "clean"},
    ]
    data = judged(api, key, {"code": PY_ACTIONS, "language": "python", "testCases": cases})
    wrote, checked = data["testCases"]
    assert wrote["passed"] is True, wrote  # the files existed within the case that wrote them
    assert checked["stdout"] == "clean\n" and checked["passed"] is True


@pytest.mark.parametrize(
    ("compare", "tolerance", "cases", "passed"),
    [
        ("exact", None, [("a b\n", "a b\n"), ("a b", "a b\n"), ("a b \n", "a b\n")], [1, 0, 0]),
        (None, None, [("a b  \n\n", "a b"), (" a", "a"), ("a\r\n", "a\n")], [1, 0, 1]),
        ("tokens", None, [("a\n b", "a b"), ("a b c", "a b"), ("1.0", "1")], [1, 0, 0]),
        ("float", None, [("3.14159", "3.14"), ("1.0000001", "1"), ("x 2", "x 2.0")], [0, 1, 1]),
        ("float", {"absolute": 0.01}, [("3.14159", "3.14"), ("3.2", "3.14")], [1, 0]),
        ("float", {"absolute": 0, "relative": 0.01}, [("1005", "1000"), ("1020", "1000")], [1, 0]),
    ],
)
def test_comparison_modes(
    api: Api,
    compare: str | None,
    tolerance: dict[str, float] | None,
    cases: list[tuple[str, str]],
    passed: list[int],
) -> None:
    _, key = api.new_account(credits=10)
    body: dict[str, Any] = {
        "code": PY_ECHO,
        "language": "python",
        "testCases": [{"input": i, "expectedOutput": e} for i, e in cases],
    }
    if compare is not None:
        body["compare"] = compare
    if tolerance is not None:
        body["tolerance"] = tolerance
    data = judged(api, key, body)
    assert [c["passed"] for c in data["testCases"]] == [bool(p) for p in passed]
    for case in data["testCases"]:
        assert case["sandboxErrorType"] == (None if case["passed"] else "WrongAnswer")


def test_command_line_arguments_and_allowed_compiler_options(api: Api) -> None:
    _, key = api.new_account(credits=10)
    code = (
        "#include <iostream>\nint main(int argc, char** argv) {\n"
        '#if __cplusplus >= 202002L\n std::cout << "c++20";\n#endif\n'
        " for (int i = 1; i < argc; i++) std::cout << ' ' << argv[i];\n"
        " std::cout << '\\n'; }\n"
    )
    data = judged(
        api,
        key,
        {
            "code": code,
            "language": "cpp",
            "compilerOptions": ["-std=c++20", "-O0"],
            "commandLineArguments": ["one", "two words", "$HOME"],
            "testCases": [{"input": "", "expectedOutput": "c++20 one two words $HOME"}],
        },
    )
    assert data["testCases"][0]["passed"] is True, data
    # Without cases too: a plain run (no testCases) takes both options.
    plain = api.run(key, "import sys\nprint(sys.argv[1:])", "python")
    assert plain["stdout"] == "[]\n"
    response = submit(
        api,
        key,
        {
            "code": "import sys\nprint(sys.argv[1:])",
            "language": "python",
            "commandLineArguments": ["-c", "x"],
        },
    )
    assert api.wait_final(key, response.json()["data"]["jobId"])["stdout"] == "['-c', 'x']\n"


@pytest.mark.parametrize(
    "options",
    [
        ["-include", "/etc/passwd"],
        ["-include/etc/passwd"],
        ["@/etc/passwd"],
        ["-fplugin=/tmp/evil.so"],
        ["-B/tmp"],
        ["-B", "/tmp"],
        ["-specs=/etc/passwd"],
        ["-O2 -include /etc/passwd"],
        ["-Wl,@/etc/passwd"],
        ["-imacros", "/etc/shadow"],
        ["--param=x"],
    ],
)
def test_compiler_options_outside_the_allowlist_are_refused(api: Api, options: list[str]) -> None:
    account_id, key = api.new_account(credits=10)
    response = submit(api, key, {"code": CPP_SUM, "language": "cpp", "compilerOptions": options})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "is not allowed for cpp" in message and "allowed: -O0" in message
    assert api.account(account_id).credits == 10


def test_compiler_options_for_a_language_without_a_compiler_are_refused(api: Api) -> None:
    _, key = api.new_account(credits=10)
    response = submit(
        api, key, {"code": "print(1)", "language": "python", "compilerOptions": ["-O2"]}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "python takes no compilerOptions; remove them"


def _big(n: int) -> str:
    return "x" * n


@pytest.mark.parametrize(
    ("extra", "status", "fragment"),
    [
        ({"testCases": [{"input": "1"}] * 65}, 400, "at most 64"),
        ({"testCases": []}, 400, "testCases is empty"),
        ({"testCases": [{"input": _big(64 * 1024 + 1)}]}, 400, "testCases[0].input is 65537 bytes"),
        (
            {"testCases": [{"input": "", "expectedOutput": _big(1600)}] * 64},
            400,
            "each case's output is kept up to 1536 bytes",
        ),
        ({"testCases": [{"input": _big(60_000)}] * 5}, 413, "larger than 262144 bytes"),
        ({"compare": "tokens"}, 400, "need testCases"),
        ({"testCases": [{"input": ""}], "compare": "fuzzy"}, 400, "compare"),
        ({"testCases": [{"input": ""}], "tolerance": {"absolute": 1}}, 400, "only with"),
        (
            {"testCases": [{"input": ""}], "compare": "float", "tolerance": {"absolute": -1}},
            400,
            "tolerance.absolute",
        ),
        ({"testCases": [{"input": "", "expected": "typo"}]}, 400, "expected"),
        ({"testCases": [{"input": "1"}], "input": "2"}, 400, "in each test case"),
        ({"commandLineArguments": ["a"] * 33}, 400, "at most 32"),
        ({"commandLineArguments": [_big(1025)]}, 400, "commandLineArguments[0] is 1025 bytes"),
        ({"commandLineArguments": ["a\u0000b"]}, 400, "NUL"),
    ],
)
def test_sizes_and_shapes_over_the_caps_are_clear_4xx(
    api: Api, extra: dict[str, Any], status: int, fragment: str
) -> None:
    account_id, key = api.new_account(credits=100)
    response = submit(api, key, {"code": "print(1)", "language": "python", **extra})
    assert response.status_code == status, response.text
    envelope = response.json()
    assert envelope["success"] is False and fragment in envelope["message"], envelope
    assert api.account(account_id).credits == 100


def test_expected_outputs_never_reach_the_program(api: Api) -> None:
    """A hostile program searches its environment, argv, stdin, every file it can read and
    every other process it can see (environ, cmdline, descriptors, memory) for anything
    shaped like an expected output, and prints what it finds. It finds the secret put in
    its own stdin (so the search works), and nothing of any expected output."""
    _, key = api.new_account(credits=10)
    cases, visible, hidden = hunter_cases()
    data = judged(api, key, {"code": SECRET_HUNTER, "language": "python", "testCases": cases})
    found_visible, searched = data["testCases"]
    assert found_visible["passed"] is True and found_visible["stdout"] == visible + "\n"
    assert searched["status"] == "failed" and searched["sandboxErrorType"] == "WrongAnswer"
    assert SECRET_PREFIX not in searched["stdout"], searched["stdout"]
    report = dict(item.split("=") for item in searched["stderr"].split())
    assert int(report["files"]) > 50 and int(report["procs"]) >= 1, report
    # The answer is shown only to its owner: in the verdict's message, never to the program.
    assert hidden in searched["sandboxErrorMessage"]
