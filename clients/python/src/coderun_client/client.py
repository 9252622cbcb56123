"""`Client`: the blocking client. `AsyncClient` (async_client.py) is its twin for asyncio."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TypeVar, Unpack

import httpx

from . import _protocol as api
from .errors import TransportError, WaitTimeout
from .models import (
    Account,
    BatchEntry,
    Delivery,
    ErrorInfo,
    Job,
    Language,
    Submission,
    SubmitRequest,
    WebhookSecret,
    WebhookSecretStatus,
)
from .options import SubmitOptions, build_request

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0  # seconds per request, on top of a long-poll's own wait
DEFAULT_RUN_TIMEOUT = 300.0  # how long run() waits for a final result
# A server without ?wait answers at once; the seed's advice is to poll every second.
MIN_POLL_INTERVAL = 1.0


class Client:
    """The CodeRun API from Python.

        with Client(base_url="http://127.0.0.1:8000", api_key="nr_live_...") as client:
            job = client.run("print(input()[::-1])", "python", input="olleh")
            print(job.status, job.stdout)

    Rate-limited (429) and unavailable (503) answers are retried after their Retry-After;
    errors raise `ApiError` subclasses carrying the server's message.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: api.RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or api.RetryPolicy()
        self._headers = api.base_headers(api_key, headers)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()

    # -- runner ----------------------------------------------------------------------------

    def submit(
        self,
        code: str,
        language: str,
        input: str = "",
        *,
        idempotency_key: str | None = None,
        **options: Unpack[SubmitOptions],
    ) -> Submission:
        """Queue a program; returns its job id at once. Every call carries an
        Idempotency-Key (a new UUID unless given), so a retry never queues it twice."""
        request = build_request(code, language, input, options)
        return self._send(api.submit(request, idempotency_key or str(uuid.uuid4())))

    def result(self, job_id: str, *, wait: float = 0.0) -> Job:
        """The job's current state; with `wait` (seconds, at most 30) the server answers as
        soon as the job is final."""
        return self._send(api.result(job_id, wait))

    def wait(self, job_id: str, *, timeout: float | None = DEFAULT_RUN_TIMEOUT) -> Job:
        """Long-poll until the job is final. Raises WaitTimeout after `timeout` seconds
        (None: no limit; every accepted job ends final)."""
        started = time.monotonic()
        while True:
            asked = time.monotonic()
            remaining = api.MAX_WAIT_SECONDS
            if timeout is not None:
                remaining = min(remaining, max(0.0, started + timeout - asked))
            job = self.result(job_id, wait=remaining)
            if job.is_final:
                return job
            now = time.monotonic()
            if timeout is not None and now - started >= timeout:
                raise WaitTimeout(job, now - started)
            if now - asked < MIN_POLL_INTERVAL:
                time.sleep(MIN_POLL_INTERVAL - (now - asked))

    def run(
        self,
        code: str,
        language: str,
        input: str = "",
        *,
        timeout: float | None = DEFAULT_RUN_TIMEOUT,
        idempotency_key: str | None = None,
        **options: Unpack[SubmitOptions],
    ) -> Job:
        """Submit and block until the final result."""
        submission = self.submit(code, language, input, idempotency_key=idempotency_key, **options)
        return self.wait(submission.job_id, timeout=timeout)

    # -- batches and test cases ----------------------------------------------------------

    def submit_batch(
        self, requests: Sequence[SubmitRequest], *, idempotency_key: str | None = None
    ) -> list[BatchEntry]:
        """Queue several programs in one request; one entry per request, in order, each a
        job id or the error that refused that item alone. Idempotent like `submit`."""
        return self._send(api.submit_batch(requests, idempotency_key or str(uuid.uuid4())))

    def batch_results(self, job_ids: Sequence[str]) -> list[Job | ErrorInfo]:
        """The current state of several jobs, in the order asked; an ErrorInfo in place of
        a jobId the account does not have."""
        return self._send(api.batch_results(job_ids))

    def run_batch(
        self, requests: Sequence[SubmitRequest], *, timeout: float | None = DEFAULT_RUN_TIMEOUT
    ) -> list[Job | ErrorInfo]:
        """Submit a batch and wait for all of it: the final Job of each accepted item, the
        ErrorInfo of each refused one, in the order of `requests`."""
        started = time.monotonic()
        results: list[Job | ErrorInfo] = []
        for entry in self.submit_batch(requests):
            if entry.job_id is None:
                results.append(entry.error or ErrorInfo("unknown", "refused without a reason"))
                continue
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            results.append(self.wait(entry.job_id, timeout=left))
        return results

    # -- webhooks --------------------------------------------------------------------------

    def deliveries(self, job_id: str) -> list[Delivery]:
        """The webhook delivery log of a job submitted with a callback_url."""
        return self._send(api.deliveries(job_id))

    def rotate_webhook_secret(self) -> WebhookSecret:
        """Create or rotate the account's webhook secret; shown only in this answer. The
        previous one stays valid until `previous_valid_until`."""
        return self._send(api.rotate_webhook_secret())

    def webhook_secret_status(self) -> WebhookSecretStatus:
        return self._send(api.webhook_secret_status())

    # -- account ---------------------------------------------------------------------------

    def account(self) -> Account:
        return self._send(api.account())

    def languages(self) -> list[Language]:
        return self._send(api.languages())

    # -- plumbing --------------------------------------------------------------------------

    def _send(self, operation: api.Operation[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    operation.method,
                    self.base_url + operation.path,
                    params=operation.params or None,
                    json=operation.body,
                    headers={**self._headers, **operation.headers},
                    timeout=api.request_timeout(self.timeout, operation),
                )
            except httpx.TransportError as error:
                delay = self.retry.delay(attempt, None) if operation.repeatable else None
                if delay is None:
                    raise TransportError(
                        f"cannot reach {self.base_url} ({operation.method} {operation.path}): "
                        f"{error or type(error).__name__}"
                    ) from error
                time.sleep(delay)
                continue
            if not response.is_success:
                delay = self.retry.delay(attempt, response)
                if delay is not None:
                    time.sleep(delay)
                    continue
            return operation.parse(api.decode(response))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"
