"""The v1 API's client flow (docs/api.md) and its verdicts, through the real runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coderun_sandbox.contract import ErrorType, RunRequest, RunResult, ms_between, parse_iso_utc

from tests.api.conftest import MakeApi
from tests.api.helpers import Api

V1_RESULT_FIELDS = {
    "jobId", "status", "language", "stdout", "stderr", "executionTimeMs", "queueTimeMs",
    "totalTimeMs", "exitCode", "sandboxErrorType", "sandboxErrorMessage", "queuedAt",
    "startedAt", "finishedAt",
}  # fmt: skip


def test_v1_client_flow(any_db_api: Api) -> None:
    """What a client of docs/api.md does: submit, then poll about once a second."""
    account_id, key = any_db_api.new_account(credits=5)
    response = any_db_api.client.post(
        "/api/v1/runner/submit",
        headers={"X-API-KEY": key, "Content-Type": "application/json"},
        content='{"code": "print(\\"Hello\\")", "language": "python", "input": ""}',
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["code"] == 200
    assert set(body) == {"code", "success", "message", "data"}
    job_id = body["data"]["jobId"]
    assert body["data"]["status"] == "queued"
    assert len(job_id) == 24 and all(c in "0123456789abcdef" for c in job_id)

    first = any_db_api.result(key, job_id).json()
    assert first["message"] == "job result fetched successfully"
    assert first["data"]["status"] in ("queued", "running", "success")

    data = any_db_api.wait_final(key, job_id)
    assert set(data) >= V1_RESULT_FIELDS
    assert data["status"] == "success"
    assert data["stdout"] == "Hello\n"
    assert data["exitCode"] == 0
    assert data["sandboxErrorType"] is None and data["sandboxErrorMessage"] == ""
    assert data["language"] == "python"
    assert data["queuedAt"] <= data["startedAt"] <= data["finishedAt"]
    assert data["queuedAt"].endswith("Z")
    # The v1 API's arithmetic: execution = finishedAt - startedAt, total = queue + execution.
    started, finished = parse_iso_utc(data["startedAt"]), parse_iso_utc(data["finishedAt"])
    assert data["executionTimeMs"] == ms_between(started, finished)
    assert data["queueTimeMs"] == ms_between(parse_iso_utc(data["queuedAt"]), started)
    assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"]
    assert 0 < data["runTimeMs"] <= data["executionTimeMs"]
    # A success costs exactly one credit.
    account = any_db_api.account(account_id)
    assert (account.credits, account.credits_used) == (4, 1)


def test_stdin_reaches_the_program(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, "import sys\nprint(sys.stdin.read().upper())", stdin="abc")
    assert data["stdout"] == "ABC\n"


# The test's id -> a program in a language and the error type it ends with.
FAILING_PROGRAMS = {
    "TLE": ("python", "while True:\n    pass\n", "TLE"),
    "MLE": ("python", "x = bytearray(1024 * 1024 * 1024)\nprint(len(x))\n", "MLE"),
    "CompilationError": ("cpp", "int main() { return undefined_name; }\n", "CompilationError"),
    "RuntimeError-python": ("python", "raise ValueError('boom')\n", "RuntimeError"),
    "RuntimeError-javascript": ("javascript", "process.exit(3)\n", "RuntimeError"),
}


@pytest.mark.parametrize(
    ("language", "code", "error_type"), FAILING_PROGRAMS.values(), ids=FAILING_PROGRAMS
)
def test_error_types_from_real_programs_cost_nothing(
    api: Api, language: str, code: str, error_type: str
) -> None:
    account_id, key = api.new_account(credits=3)
    data = api.run(key, code, language)
    assert data["status"] == "failed"
    assert data["sandboxErrorType"] == error_type
    assert data["sandboxErrorMessage"]
    account = api.account(account_id)
    assert (account.credits, account.credits_used) == (3, 0)
    assert api.job(data["jobId"]).charged is False


def test_cpp_success(api: Api) -> None:
    _, key = api.new_account()
    code = '#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<"\\n";}\n'
    data = api.run(key, code, "cpp", stdin="2 40")
    assert (data["status"], data["stdout"]) == ("success", "42\n")
    assert data["compileTimeMs"] is not None


def _broken_sandbox(_request: RunRequest) -> RunResult:
    return RunResult.failure(ErrorType.SANDBOX_ERROR, "the sandbox failed to start: injected")


def _crashing_runner(_request: RunRequest) -> RunResult:
    raise RuntimeError("injected runner bug")


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [(_broken_sandbox, "SandboxError"), (_crashing_runner, "InternalError")],
    ids=["sandbox-error", "runner-crash"],
)
def test_a_failed_sandbox_or_runner_ends_the_job_free(
    make_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[RunRequest], RunResult],
    error_type: str,
) -> None:
    """FAKE, on purpose: neither can be caused from a submitted program. A broken sandbox
    returns the SandboxError the runner would report; a runner bug (the runner never raises
    for a program) must still end the job (InternalError) instead of leaving it `running`.
    Both are free."""
    from coderun_api.executors import local

    monkeypatch.setattr(local, "_execute", fault)
    api = make_api()
    account_id, key = api.new_account(credits=2)
    data = api.run(key, "print(1)")
    assert (data["status"], data["sandboxErrorType"]) == ("failed", error_type)
    assert api.account(account_id).credits == 2


def test_wait_returns_the_final_result_in_one_call(api: Api) -> None:
    _, key = api.new_account()
    job_id = api.submit(key, "print('waited')").json()["data"]["jobId"]
    data = api.result(key, job_id, wait=30).json()["data"]
    assert data["status"] == "success" and data["stdout"] == "waited\n"


def test_wait_is_capped_and_validated(api: Api) -> None:
    _, key = api.new_account()
    job_id = api.submit(key, "print(1)").json()["data"]["jobId"]
    assert api.result(key, job_id, wait=3600).status_code == 200  # capped at 30 s, not refused
    bad = api.client.get(f"/api/v1/runner/{job_id}/result?wait=-1", headers={"X-API-KEY": key})
    assert bad.status_code == 400 and bad.json()["success"] is False
