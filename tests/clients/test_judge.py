"""Test cases and batches through the Python client against the real server (the judge
fields of docs/api.md): per-case verdicts, comparison modes, arguments and compiler options,
a batch whose bad item is refused alone, and batch results with an unknown id."""

from __future__ import annotations

import asyncio

from coderun_client import (
    AsyncClient,
    BadRequestError,
    Client,
    ErrorInfo,
    Job,
    SubmitRequest,
    TestCase,
    Tolerance,
)

from tests.clients.conftest import ClientServer

DOUBLE = "print(int(input()) * 2)"


def test_test_cases_get_a_verdict_each(client: Client) -> None:
    job = client.run(
        DOUBLE,
        "python",
        test_cases=[TestCase("2", "4"), TestCase("3", "7"), TestCase("5")],
    )
    assert (job.status, job.sandbox_error_type) == ("failed", "WrongAnswer")
    assert job.sandbox_error_message.startswith("case 1: ")
    assert (job.test_cases_passed, job.test_cases_total) == (1, 3)  # only judged cases pass
    assert job.test_cases is not None
    assert [(c.index, c.status, c.passed, c.stdout) for c in job.test_cases] == [
        (0, "success", True, "4\n"),
        (1, "failed", False, "6\n"),
        (2, "success", None, "10\n"),  # no expected output: collected, not judged
    ]
    assert job.test_cases[1].sandbox_error_type == "WrongAnswer"


def test_options_reach_the_run(client: Client) -> None:
    stop = client.run(
        DOUBLE,
        "python",
        test_cases=[TestCase("1", "3"), TestCase("2", "4")],
        stop_on_first_failure=True,
    )
    assert stop.test_cases is not None and stop.test_cases[1].status == "skipped"
    close = client.run(
        "print(0.1 + 0.2)",
        "python",
        test_cases=[TestCase("", "0.3")],
        compare="float",
        tolerance=Tolerance(absolute=1e-9),
    )
    assert close.status == "success" and close.test_cases_passed == 1
    argv = client.run(
        "import sys\nprint(' '.join(sys.argv[1:]))",
        "python",
        command_line_arguments=["a", "b c"],
    )
    assert argv.stdout == "a b c\n"
    cpp = client.run(
        '#include <cstdio>\nint main(){\n#ifdef ONLINE_JUDGE\nputs("judge");\n#endif\n}',
        "cpp",
        compiler_options=["-O2", "-DONLINE_JUDGE"],
    )
    assert cpp.stdout == "judge\n"


def test_bad_options_are_refused_with_the_servers_message(client: Client) -> None:
    try:
        client.submit("int main(){}", "cpp", compiler_options=["-fplugin=evil.so"])
    except BadRequestError as error:
        assert "-fplugin=evil.so" in error.message
    else:
        raise AssertionError("a compiler option outside the allowlist was accepted")


def test_a_batch_is_refused_item_by_item(client: Client) -> None:
    requests = [
        SubmitRequest("print('a')", "python"),
        SubmitRequest("puts 1", "ruby"),
        SubmitRequest(DOUBLE, "python", test_cases=[TestCase("21", "42")]),
    ]
    entries = client.submit_batch(requests)
    assert [e.index for e in entries] == [0, 1, 2]
    assert entries[0].job_id and entries[2].job_id and entries[1].job_id is None
    assert entries[1].error is not None and entries[1].error.code == 400
    assert "ruby" in entries[1].error.message

    results = client.run_batch(requests)
    assert isinstance(results[0], Job) and results[0].stdout == "a\n"
    assert isinstance(results[1], ErrorInfo) and results[1].type == "BadRequest"
    assert isinstance(results[2], Job) and results[2].test_cases_passed == 1

    ids = [e.job_id for e in entries if e.job_id]
    current = client.batch_results([*ids, "0" * 24])
    assert [type(item) for item in current] == [Job, Job, ErrorInfo]
    assert [item.job_id for item in current if isinstance(item, Job)] == ids
    missing = current[2]
    assert isinstance(missing, ErrorInfo) and missing.code == 404


def test_a_keyed_batch_replays_the_same_jobs(client: Client) -> None:
    requests = [SubmitRequest("print(1)", "python"), SubmitRequest("print(2)", "python")]
    first = client.submit_batch(requests, idempotency_key="nightly-7")
    again = client.submit_batch(requests, idempotency_key="nightly-7")
    assert [e.job_id for e in again] == [e.job_id for e in first]


def test_the_async_client_judges_and_batches(server: ClientServer, api_key: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url=server.base, api_key=api_key) as client:
            job = await client.run(DOUBLE, "python", test_cases=[TestCase("4", "8")])
            assert job.status == "success" and job.test_cases_passed == 1
            results = await client.run_batch(
                [SubmitRequest("print(3)", "python"), SubmitRequest("", "python")]
            )
            assert isinstance(results[0], Job) and results[0].stdout == "3\n"
            assert isinstance(results[1], ErrorInfo)
            ids = [r.job_id for r in results if isinstance(r, Job)]
            assert [j.job_id for j in await client.batch_results(ids) if isinstance(j, Job)] == ids

    asyncio.run(scenario())
