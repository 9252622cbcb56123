"""Every public method of the Python client (`Client` and `AsyncClient`) against the real
server on the embedded executor: runs with real verdicts, the typed errors with the server's
messages, idempotent submits, waiting with and without a limit."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from coderun_client import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    InsufficientCreditsError,
    Job,
    NotFoundError,
    PayloadTooLargeError,
    TransportError,
    WaitTimeout,
)
from coderun_sandbox.languages import BUILTIN

from tests.clients.conftest import ClientServer
from tests.fixtures.services import free_port

SPIN = "while True: pass"
SLEEPY = "import time\ntime.sleep(2)\nprint('late')\n"


def test_run_blocks_until_the_final_result_with_every_field(client: Client) -> None:
    job = client.run("print(input()[::-1])", "python", input="olleh")
    assert isinstance(job, Job)
    assert (job.status, job.stdout, job.stderr, job.exit_code) == ("success", "hello\n", "", 0)
    assert job.is_final and job.ok
    assert job.sandbox_error_type is None and job.sandbox_error_message == ""
    assert job.language == "python" and len(job.job_id) == 24
    assert job.queued_at and job.started_at and job.finished_at
    assert job.total_time_ms == job.queue_time_ms + job.execution_time_ms  # type: ignore[operator]
    assert job.memory_kb and job.run_time_ms is not None


def test_run_returns_failures_as_verdicts_not_exceptions(client: Client) -> None:
    spin = client.run(SPIN, "python")
    assert (spin.status, spin.sandbox_error_type, spin.ok) == ("failed", "TLE", False)
    broken = client.run("int main( { return 0; }", "cpp")
    assert (broken.status, broken.sandbox_error_type) == ("failed", "CompilationError")
    assert broken.stderr or broken.sandbox_error_message
    crash = client.run("process.exit(3)", "javascript")
    assert (crash.sandbox_error_type, crash.exit_code) == ("RuntimeError", 3)


def test_only_successes_cost_a_credit(client: Client) -> None:
    before = client.account()
    client.run("print(1)", "python")
    client.run("raise SystemExit(1)", "python")
    after = client.account()
    assert after.credits == before.credits - 1
    assert after.credits_used == before.credits_used + 1
    assert after.has_api_key and after.email.startswith("client-")


def test_submit_result_and_wait(client: Client) -> None:
    submission = client.submit(SLEEPY, "python")
    assert submission.status == "queued"
    first = client.result(submission.job_id)
    assert first.job_id == submission.job_id and first.status in ("queued", "running")
    assert not first.is_final
    # A long-poll shorter than the run answers with the job still going ...
    still = client.result(submission.job_id, wait=0.5)
    assert still.status in ("queued", "running")
    # ... and wait() keeps long-polling until it is final.
    done = client.wait(submission.job_id, timeout=120)
    assert (done.status, done.stdout) == ("success", "late\n")
    assert client.result(submission.job_id) == done  # final results never change


def test_run_gives_up_after_its_timeout_and_the_job_goes_on(client: Client) -> None:
    with pytest.raises(WaitTimeout) as raised:
        client.run(SLEEPY, "python", timeout=0.5)
    job_id = raised.value.job.job_id
    assert raised.value.job.status in ("queued", "running")
    assert client.wait(job_id).stdout == "late\n"


def test_submit_is_idempotent_under_its_key(client: Client) -> None:
    first = client.submit("print('once')", "python", idempotency_key="order-17")
    again = client.submit("print('once')", "python", idempotency_key="order-17")
    assert again.job_id == first.job_id
    from coderun_client import ConflictError

    with pytest.raises(ConflictError) as raised:
        client.submit("print('other')", "python", idempotency_key="order-17")
    assert raised.value.status == 409 and "Idempotency-Key" in raised.value.message
    # without a key of the caller's, each call is a new job (the client's own UUIDs)
    assert client.submit("print(1)", "python").job_id != client.submit("print(1)", "python").job_id


def test_errors_carry_the_servers_message_and_a_type(server: ClientServer, client: Client) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.submit("puts 1", "ruby")
    assert (bad.value.status, bad.value.type) == (400, "bad_request")
    assert (
        bad.value.message == "unsupported language 'ruby'; supported: python, javascript, cpp, java"
    )
    assert bad.value.envelope["success"] is False

    with pytest.raises(BadRequestError, match="empty"):
        client.submit("", "python")
    with pytest.raises(PayloadTooLargeError):
        client.submit("x" * 300_000, "python")
    with pytest.raises(NotFoundError) as missing:
        client.result("0" * 24)
    assert missing.value.type == "not_found" and "not found" in missing.value.message

    with (
        Client(base_url=server.base, api_key="nr_live_" + "x" * 43) as stranger,
        pytest.raises(AuthenticationError) as unknown,
    ):
        stranger.run("print(1)", "python")
    assert unknown.value.status == 401 and "X-API-KEY" in unknown.value.message
    with Client(base_url=server.base) as anonymous, pytest.raises(AuthenticationError):
        anonymous.submit("print(1)", "python")
    assert isinstance(unknown.value, ApiError)


def test_no_credits_is_a_typed_error(server: ClientServer) -> None:
    with (
        Client(base_url=server.base, api_key=server.new_key(credits=0)) as broke,
        pytest.raises(InsufficientCreditsError) as raised,
    ):
        broke.submit("print(1)", "python")
    assert raised.value.status == 402 and "credits" in raised.value.message


def test_an_unreachable_server_is_a_transport_error() -> None:
    from coderun_client import RetryPolicy

    base = f"http://127.0.0.1:{free_port()}"  # bound and closed again: nobody listens
    with (
        Client(base_url=base, api_key="k", retry=RetryPolicy(max_retries=1, backoff=0.01)) as c,
        pytest.raises(TransportError, match="cannot reach"),
    ):
        c.result("0" * 24)


def test_languages(client: Client) -> None:
    languages = {language.key: language for language in client.languages()}
    assert list(languages) == ["python", "javascript", "cpp", "java"]
    # What a judge-mode submission may send in compilerOptions, as the server lists it.
    assert languages["cpp"].compiler_options == list(BUILTIN["cpp"].compiler_options)
    assert "-O2" in languages["cpp"].compiler_options
    assert languages["python"].compiler_options == []


def test_the_async_twin_does_the_same(server: ClientServer, api_key: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url=server.base, api_key=api_key) as client:
            jobs = await asyncio.gather(
                *(client.run(f"print({n} * {n})", "python") for n in range(3))
            )
            assert [job.stdout for job in jobs] == ["0\n", "1\n", "4\n"]
            submission = await client.submit(SLEEPY, "python")
            assert (await client.result(submission.job_id)).status in ("queued", "running")
            with pytest.raises(WaitTimeout):
                await client.wait(submission.job_id, timeout=0.3)
            assert (await client.wait(submission.job_id)).stdout == "late\n"
            with pytest.raises(BadRequestError, match="ruby"):
                await client.run("puts 1", "ruby")
            with pytest.raises(NotFoundError):
                await client.result("f" * 24)
            assert (await client.account()).credits_used == 4
            assert len(await client.languages()) == 4

    asyncio.run(scenario())


def test_a_caller_supplied_httpx_client_is_used_and_left_open(
    server: ClientServer, api_key: str
) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: seen.append(request.url.path)]})
    with Client(base_url=server.base + "/", api_key=api_key, http_client=http) as client:
        assert client.run("print(2)", "python").stdout == "2\n"
    assert seen[0] == "/api/v1/runner/submit"
    assert not http.is_closed
    http.close()
