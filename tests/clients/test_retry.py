"""429 is retried after the server's Retry-After, on a real server with a small submit limit
(CODERUN_SUBMIT_RATE_LIMIT); with retries off, RateLimitError carries message and Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from coderun_client import AsyncClient, Client, RateLimitError, RetryPolicy

from tests.clients.conftest import ClientServer, server_env, serving

LIMIT = 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientServer]:
    env = server_env(
        tmp_path_factory.mktemp("limited-api"), CODERUN_SUBMIT_RATE_LIMIT=f"{LIMIT}/3 seconds"
    )
    with serving(env) as process:
        yield process


def test_429_is_retried_after_retry_after(limited: ClientServer) -> None:
    statuses: list[int] = []
    retry_after: list[str] = []

    def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after.append(response.headers["retry-after"])

    http = httpx.Client(event_hooks={"response": [record]})
    with Client(base_url=limited.base, api_key=limited.new_key(), http_client=http) as client:
        ids = [client.submit(f"print({n})", "python").job_id for n in range(LIMIT + 2)]
        assert len(set(ids)) == LIMIT + 2  # each retried submit queued exactly one job
        assert [client.wait(job_id).stdout for job_id in ids] == [f"{n}\n" for n in range(4)]
    http.close()
    assert 429 in statuses, statuses  # the limit was really hit, and retried through
    assert all(int(value) >= 1 for value in retry_after)


def test_rate_limit_error_carries_the_message_and_retry_after(limited: ClientServer) -> None:
    key = limited.new_key()
    # Retry-After (3 s) is beyond max_delay: raised at once, saying when.
    policy = RetryPolicy(max_retries=3, max_delay=0.1, backoff=0.01)
    with (
        Client(base_url=limited.base, api_key=key, retry=policy) as client,
        pytest.raises(RateLimitError) as raised,
    ):
        for n in range(LIMIT + 1):
            client.submit(f"print({n})", "python")
    error = raised.value
    assert (error.status, error.type) == (429, "rate_limited")
    assert "too many submissions" in error.message
    assert error.retry_after is not None and error.retry_after >= 1


def test_a_retry_after_beyond_the_cap_is_raised_not_slept(limited: ClientServer) -> None:
    policy = RetryPolicy(max_retries=5, max_delay=0.1)
    with (
        Client(base_url=limited.base, api_key=limited.new_key(), retry=policy) as client,
        pytest.raises(RateLimitError),
    ):
        for n in range(LIMIT + 1):
            client.submit(f"print({n})", "python")


def test_the_async_client_retries_too(limited: ClientServer) -> None:
    async def scenario() -> list[str]:
        async with AsyncClient(base_url=limited.base, api_key=limited.new_key()) as client:
            jobs = [await client.run(f"print({n})", "python") for n in range(LIMIT + 1)]
            return [job.stdout for job in jobs]

    assert asyncio.run(scenario()) == ["0\n", "1\n", "2\n"]
