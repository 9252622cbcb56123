"""Exceptions: one class per kind of refusal, each carrying the server's own message.

The API answers every error with its envelope `{code, success: false, message, data: null}`,
whose message says what to fix; `ApiError.message` is that text, unchanged.
"""

from __future__ import annotations

from typing import Any

from ._retry_after import parse_retry_after
from .models import Job


class CodeRunError(Exception):
    """Base of every exception this package raises."""


class ApiError(CodeRunError):
    """The API refused a request. `status` is the HTTP status, `message` the envelope's,
    `type` a stable name for the kind (the envelope's own `type` when it sends one, else the
    status's own: `bad_request`, `not_found`, ...)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        envelope: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.type = type or _kind(status)[1]
        self.envelope = envelope or {}
        self.headers = headers or {}


class BadRequestError(ApiError):
    """400: the request is malformed or a field is out of range; the message names it."""


class AuthenticationError(ApiError):
    """401: the API key is missing, malformed, unknown or revoked."""


class InsufficientCreditsError(ApiError):
    """402: not enough credits left for the runs asked; nothing was queued."""


class PermissionDeniedError(ApiError):
    """403: a session-authenticated request without the dashboard's header."""


class NotFoundError(ApiError):
    """404: no such job for this account."""


class ConflictError(ApiError):
    """409: an Idempotency-Key reused with another body, or a duplicate sign-up."""


class PayloadTooLargeError(ApiError):
    """413: the request body is larger than the server accepts."""


class RateLimitError(ApiError):
    """429, still there after the retries (or with a Retry-After beyond the client's cap)."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ServiceUnavailableError(ApiError):
    """503: a dependency of the server (database, Redis) is down; nothing was saved."""


class ServerError(ApiError):
    """Any other 5xx: the server failed on its side."""


# Each status's class and the stable `type` its errors carry when the envelope names none.
_BY_STATUS: dict[int, tuple[type[ApiError], str]] = {
    400: (BadRequestError, "bad_request"),
    401: (AuthenticationError, "unauthorized"),
    402: (InsufficientCreditsError, "insufficient_credits"),
    403: (PermissionDeniedError, "forbidden"),
    404: (NotFoundError, "not_found"),
    409: (ConflictError, "conflict"),
    413: (PayloadTooLargeError, "payload_too_large"),
    429: (RateLimitError, "rate_limited"),
    503: (ServiceUnavailableError, "unavailable"),
}


def _kind(status: int) -> tuple[type[ApiError], str]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return (ServerError, "server_error") if status >= 500 else (ApiError, "api_error")


def error_class(status: int) -> type[ApiError]:
    return _kind(status)[0]


class TransportError(CodeRunError):
    """The server could not be reached, or the connection broke (after the retries)."""


class WaitTimeout(CodeRunError):
    """The job was not final within the time `run`/`wait` was given. It keeps running on
    the server: `job` is its last state, `job.job_id` fetches it later."""

    def __init__(self, job: Job, waited: float) -> None:
        super().__init__(f"job {job.job_id} still {job.status} after {waited:.0f} s")
        self.job = job
        self.waited = waited


class WebhookVerificationError(CodeRunError):
    """A webhook delivery whose signature, timestamp or body does not check out: reject it."""
