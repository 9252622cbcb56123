"""Every public method of `Client` and `AsyncClient`, written once, without I/O.

A method is a plan: a generator that yields the steps it needs (an `Operation` to send once,
a `Sleep`) and is resumed with their outcome (the `httpx.Response`, or the transport error
thrown into it). Each section lists its plans once as methods, and `ClientMethods` joins the
sections; `Client` drives them with blocking calls, `AsyncClient` with awaits, so the two have
the same methods, arguments and docstrings, and the retries, the long-poll loop and batch
waiting cannot drift apart.
"""

from __future__ import annotations

import functools
import time
import types
import uuid
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, Unpack, cast, overload

import httpx

from . import _protocol as api
from . import models
from .errors import TransportError, WaitTimeout
from .models import Job, SubmitRequest
from .options import SubmitArguments, build_request

P = ParamSpec("P")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

DEFAULT_TIMEOUT = 30.0  # seconds per request, on top of a long-poll's own wait
DEFAULT_RUN_TIMEOUT = 300.0  # how long run() waits for a final result
# A server without ?wait answers at once; docs/api.md advises polling about once a second.
MIN_POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = api.Operation[Any] | Sleep
# What a driver hands back: the response to an Operation, the error that stopped it, or
# None after a Sleep.
Outcome = httpx.Response | httpx.TransportError | None
Plan = Generator[Step, httpx.Response | None, T]


class ClientCore(Generic[H]):
    """What both clients hold: the server, the key, the timeouts and the HTTP client."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: api.RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: H | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or api.RetryPolicy()
        self._headers = api.base_headers(api_key, headers)
        self._owns_http = http_client is None
        self._http: H = http_client if http_client is not None else self._new_http()

    def _new_http(self) -> H:
        raise NotImplementedError

    def _drive(self, plan: Plan[T]) -> Any:
        """Runs the plan to its end: its result (Client), or a coroutine of it (AsyncClient)."""
        raise NotImplementedError

    def _request(self, operation: api.Operation[Any]) -> dict[str, Any]:
        """The keyword arguments of `httpx.Client.request` (and the async one) for it."""
        return {
            "method": operation.method,
            "url": self.base_url + operation.path,
            "params": operation.params or None,
            "json": operation.body,
            "headers": {**self._headers, **operation.headers},
            "timeout": api.request_timeout(self.timeout, operation),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


def resume(plan: Plan[T], outcome: Outcome) -> Step | Done[T]:
    """The plan's next step, or its result once it has returned."""
    try:
        if isinstance(outcome, httpx.TransportError):
            return plan.throw(outcome)
        return plan.send(outcome)
    except StopIteration as done:
        return Done(cast(T, done.value))


def send(client: ClientCore[Any], operation: api.Operation[T]) -> Plan[T]:
    """One call, retried per `client.retry`: 429/503 after their Retry-After, a transport
    failure only when the operation is safe to repeat."""
    attempt = 0
    while True:
        attempt += 1
        try:
            response = yield operation
        except httpx.TransportError as error:
            delay = client.retry.delay(attempt, None) if operation.repeatable else None
            if delay is None:
                raise TransportError(
                    f"cannot reach {client.base_url} ({operation.method} {operation.path}): "
                    f"{error or type(error).__name__}"
                ) from error
            yield Sleep(delay)
            continue
        assert response is not None, "a driver answers an Operation with its response"
        if not response.is_success:
            delay = client.retry.delay(attempt, response)
            if delay is not None:
                yield Sleep(delay)
                continue
        return operation.parse(api.decode(response))


class Method(Generic[P, T]):
    """A plan as a method: on a `Client` it returns the plan's result, on an `AsyncClient` a
    coroutine of it (the two `__get__` overloads tell the type checker which)."""

    def __init__(self, plan: Callable[Concatenate[ClientCore[Any], P], Plan[T]]) -> None:
        def method(client: ClientCore[Any], /, *args: P.args, **kwargs: P.kwargs) -> Any:
            return client._drive(plan(client, *args, **kwargs))

        # The plan's name, docstring and signature (inspect follows __wrapped__).
        self.method = functools.update_wrapper(method, plan)
        self.__doc__ = plan.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, client: ClientCore[httpx.Client], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: ClientCore[httpx.AsyncClient], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: ClientCore[Any] | None, owner: type[Any]) -> Any:
        return self if client is None else types.MethodType(self.method, client)


# -- runner ------------------------------------------------------------------------------


def submit(
    client: ClientCore[Any],
    code: str,
    language: str,
    input: str = "",
    **options: Unpack[SubmitArguments],
) -> Plan[models.Submission]:
    """Queue a program; returns its job id at once. Every call carries an
    Idempotency-Key (a new UUID unless given), so a retry never queues it twice."""
    request = build_request(code, language, input, options)
    key = options.get("idempotency_key") or str(uuid.uuid4())
    return (yield from send(client, api.submit(request, key)))


def result(client: ClientCore[Any], job_id: str, *, wait: float = 0.0) -> Plan[Job]:
    """The job's current state; with `wait` (seconds, at most 30) the server answers as
    soon as the job is final."""
    return (yield from send(client, api.result(job_id, wait)))


def wait(
    client: ClientCore[Any], job_id: str, *, timeout: float | None = DEFAULT_RUN_TIMEOUT
) -> Plan[Job]:
    """Long-poll until the job is final. Raises WaitTimeout after `timeout` seconds
    (None: no limit; every accepted job ends final)."""
    started = time.monotonic()
    while True:
        asked = time.monotonic()
        remaining = api.MAX_WAIT_SECONDS
        if timeout is not None:
            remaining = min(remaining, max(0.0, started + timeout - asked))
        job = yield from result(client, job_id, wait=remaining)
        if job.is_final:
            return job
        now = time.monotonic()
        if timeout is not None and now - started >= timeout:
            raise WaitTimeout(job, now - started)
        if now - asked < MIN_POLL_INTERVAL:
            yield Sleep(MIN_POLL_INTERVAL - (now - asked))


def run(
    client: ClientCore[Any],
    code: str,
    language: str,
    input: str = "",
    *,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
    **options: Unpack[SubmitArguments],
) -> Plan[Job]:
    """Submit and wait for the final result."""
    submission = yield from submit(client, code, language, input, **options)
    return (yield from wait(client, submission.job_id, timeout=timeout))


class RunnerMethods(ClientCore[H]):
    submit = Method(submit)
    result = Method(result)
    wait = Method(wait)
    run = Method(run)


# -- batches and test cases --------------------------------------------------------------


def submit_batch(
    client: ClientCore[Any],
    requests: Sequence[SubmitRequest],
    *,
    idempotency_key: str | None = None,
) -> Plan[list[models.BatchEntry]]:
    """Queue several programs in one request; one entry per request, in order, each a
    job id or the error that refused that item alone. Idempotent like `submit`."""
    key = idempotency_key or str(uuid.uuid4())
    return (yield from send(client, api.submit_batch(requests, key)))


def batch_results(
    client: ClientCore[Any], job_ids: Sequence[str]
) -> Plan[list[Job | models.ErrorInfo]]:
    """The current state of several jobs, in the order asked; an ErrorInfo in place of
    a jobId the account does not have."""
    return (yield from send(client, api.batch_results(job_ids)))


def run_batch(
    client: ClientCore[Any],
    requests: Sequence[SubmitRequest],
    *,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> Plan[list[Job | models.ErrorInfo]]:
    """Submit a batch and wait for all of it: the final Job of each accepted item, the
    ErrorInfo of each refused one, in the order of `requests`."""
    started = time.monotonic()
    results: list[Job | models.ErrorInfo] = []
    for entry in (yield from submit_batch(client, requests)):
        if entry.job_id is None:
            results.append(entry.error or models.ErrorInfo("unknown", "refused without a reason"))
            continue
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        results.append((yield from wait(client, entry.job_id, timeout=left)))
    return results


class BatchMethods(ClientCore[H]):
    submit_batch = Method(submit_batch)
    batch_results = Method(batch_results)
    run_batch = Method(run_batch)


# -- webhooks ----------------------------------------------------------------------------


def deliveries(client: ClientCore[Any], job_id: str) -> Plan[list[models.Delivery]]:
    """The webhook delivery log of a job submitted with a callback_url."""
    return (yield from send(client, api.deliveries(job_id)))


def rotate_webhook_secret(client: ClientCore[Any]) -> Plan[models.WebhookSecret]:
    """Create or rotate the account's webhook secret; shown only in this answer. The
    previous one stays valid until `previous_valid_until`."""
    return (yield from send(client, api.rotate_webhook_secret()))


def webhook_secret_status(client: ClientCore[Any]) -> Plan[models.WebhookSecretStatus]:
    """Whether the account has a webhook secret, and until when a rotated-out one still works."""
    return (yield from send(client, api.webhook_secret_status()))


class WebhookMethods(ClientCore[H]):
    deliveries = Method(deliveries)
    rotate_webhook_secret = Method(rotate_webhook_secret)
    webhook_secret_status = Method(webhook_secret_status)


# -- account -----------------------------------------------------------------------------


def account(client: ClientCore[Any]) -> Plan[models.Account]:
    """The account of the API key: its email, credits left and used."""
    return (yield from send(client, api.account()))


def languages(client: ClientCore[Any]) -> Plan[list[models.Language]]:
    """The languages the server runs, each with its display name and starter program."""
    return (yield from send(client, api.languages()))


class AccountMethods(ClientCore[H]):
    account = Method(account)
    languages = Method(languages)


class ClientMethods(
    RunnerMethods[H], BatchMethods[H], WebhookMethods[H], AccountMethods[H], ClientCore[H]
):
    """The public methods of both clients, one class per section above (each lists its
    plans as methods beside them); see each plan for what it does."""
