"""Exceptions: one class per kind of refusal, each carrying the server's own message.

The API answers every error with its envelope `{code, success: false, message, data: null}`,
whose message says what to fix; `ApiError.message` is that text, unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .models import Job


class CodeRunError(Exception):
    """Base of every exception this package raises."""


class ApiError(CodeRunError):
    """The API refused a request. `status` is the HTTP status, `message` the envelope's,
    `type` a stable name for the kind (the envelope's own `type` when it sends one)."""

    default_type: ClassVar[str] = "api_error"

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
        self.type = type or self.default_type
        self.envelope = envelope or {}
        self.headers = headers or {}


class BadRequestError(ApiError):
    default_type = "bad_request"


class AuthenticationError(ApiError):
    default_type = "unauthorized"


class InsufficientCreditsError(ApiError):
    default_type = "insufficient_credits"


class PermissionDeniedError(ApiError):
    default_type = "forbidden"


class NotFoundError(ApiError):
    default_type = "not_found"


class ConflictError(ApiError):
    default_type = "conflict"


class PayloadTooLargeError(ApiError):
    default_type = "payload_too_large"


class RateLimitError(ApiError):
    """429, still there after the retries (or with a Retry-After beyond the client's cap)."""

    default_type = "rate_limited"

    @property
    def retry_after(self) -> float | None:
        from ._protocol import parse_retry_after

        return parse_retry_after(self.headers.get("retry-after"))


class ServiceUnavailableError(ApiError):
    """503: a dependency of the server (database, Redis) is down; nothing was saved."""

    default_type = "unavailable"


class ServerError(ApiError):
    default_type = "server_error"


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError


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
