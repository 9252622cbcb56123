"""The API's requests and answers, without I/O, shared by `Client` and `AsyncClient`.

Each public method of the two clients builds an `Operation` here and hands it to its own
transport loop (blocking or asyncio), so the two cannot drift apart on paths, bodies,
envelopes or the retry policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ._retry_after import parse_retry_after
from .errors import ApiError, error_class
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

T = TypeVar("T")

# The server caps ?wait at 30 s (docs/api.md); asking for more just returns sooner.
MAX_WAIT_SECONDS = 30.0
# Statuses whose envelope says "nothing was done, retry later" (429: rate limit; 503: Redis
# or the database down, both answered before anything is saved).
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Operation(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # May a transport failure (connection refused, reset) be retried? Only when the request
    # is safe to repeat: a GET, or a POST carrying an Idempotency-Key.
    repeatable: bool = True
    # Extra read time on top of the client's timeout (a long-poll holds the answer back).
    extra_read_seconds: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429/503 honour Retry-After; without one, exponential backoff."""

    max_retries: int = 3
    max_delay: float = 60.0  # a Retry-After beyond this is raised, not slept through
    backoff: float = 0.5

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to sleep before retry number `attempt` (1-based), None: give up."""
        if attempt > self.max_retries:
            return None
        wait = self.backoff * 2 ** (attempt - 1)
        if response is not None:
            if response.status_code not in RETRY_STATUSES:
                return None
            after = parse_retry_after(response.headers.get("retry-after"))
            if after is not None:
                wait = after
        return wait if wait <= self.max_delay else None


def decode(response: httpx.Response) -> Any:
    """The envelope's `data`, or the typed error carrying the envelope's message."""
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        text = response.text[:200].strip() or response.reason_phrase
        if response.is_success:
            raise ApiError(response.status_code, f"the server's answer is not JSON: {text}")
        raise error_class(response.status_code)(
            response.status_code, text, headers=dict(response.headers)
        )
    if response.is_success and envelope.get("success", True):
        return envelope.get("data")
    message = str(envelope.get("message") or response.reason_phrase)
    kind = envelope.get("type")
    raise error_class(response.status_code)(
        response.status_code,
        message,
        type=kind if isinstance(kind, str) else None,
        envelope=envelope,
        headers=dict(response.headers),
    )


def _path_id(job_id: str) -> str:
    if not job_id:
        raise ValueError("job_id is empty")
    return quote(job_id, safe="")


def submit(request: SubmitRequest, idempotency_key: str) -> Operation[Submission]:
    return Operation(
        "POST",
        "/api/v1/runner/submit",
        Submission.from_json,
        body=request.to_json(),
        headers={"Idempotency-Key": idempotency_key},
    )


def result(job_id: str, wait: float = 0.0) -> Operation[Job]:
    wait = max(0.0, min(wait, MAX_WAIT_SECONDS))
    params = {"wait": _seconds(wait)} if wait > 0 else {}
    return Operation(
        "GET",
        f"/api/v1/runner/{_path_id(job_id)}/result",
        Job.from_json,
        params=params,
        extra_read_seconds=wait,
    )


def _seconds(value: float) -> str:
    return str(int(value)) if value == math.floor(value) else f"{value:.3f}"


def submit_batch(
    requests: Sequence[SubmitRequest], idempotency_key: str
) -> Operation[list[BatchEntry]]:
    def parse(data: Any) -> list[BatchEntry]:
        return [BatchEntry.from_json(item) for item in data["submissions"]]

    return Operation(
        "POST",
        "/api/v1/runner/submissions/batch",
        parse,
        body={"submissions": [request.to_json() for request in requests]},
        headers={"Idempotency-Key": idempotency_key},
    )


def batch_results(job_ids: Sequence[str]) -> Operation[list[Job | ErrorInfo]]:
    def parse(data: Any) -> list[Job | ErrorInfo]:
        # An unknown (or another account's) jobId answers {"jobId", "error"} in its place.
        return [
            ErrorInfo.from_json(item["error"]) if "error" in item else Job.from_json(item)
            for item in data["submissions"]
        ]

    if not job_ids:
        raise ValueError("job_ids is empty")
    return Operation(
        "GET",
        "/api/v1/runner/submissions/batch",
        parse,
        params={"jobIds": ",".join(job_ids)},
    )


def deliveries(job_id: str) -> Operation[list[Delivery]]:
    def parse(data: Any) -> list[Delivery]:
        return [Delivery.from_json(item) for item in data["deliveries"]]

    return Operation("GET", f"/api/v1/runner/{_path_id(job_id)}/deliveries", parse)


def rotate_webhook_secret() -> Operation[WebhookSecret]:
    # Not repeatable: a second rotation would retire the secret the first one made.
    return Operation(
        "POST", "/api/v1/account/webhook-secret", WebhookSecret.from_json, repeatable=False
    )


def webhook_secret_status() -> Operation[WebhookSecretStatus]:
    return Operation("GET", "/api/v1/account/webhook-secret", WebhookSecretStatus.from_json)


def account() -> Operation[Account]:
    return Operation("GET", "/api/v1/account", Account.from_json)


def languages() -> Operation[list[Language]]:
    def parse(data: Any) -> list[Language]:
        return [Language.from_json(item) for item in data]

    return Operation("GET", "/api/v1/languages", parse)


def base_headers(api_key: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    from . import __version__

    headers = {"User-Agent": f"coderun-client-python/{__version__}", "Accept": "application/json"}
    if api_key:
        headers["X-API-KEY"] = api_key
    headers.update(extra or {})
    return headers


def request_timeout(timeout: float, operation: Operation[Any]) -> httpx.Timeout:
    return httpx.Timeout(timeout, read=timeout + operation.extra_read_seconds)
