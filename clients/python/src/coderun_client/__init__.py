"""The official Python client of the CodeRun API (clients/python/README.md)."""

from __future__ import annotations

from ._protocol import RetryPolicy
from .async_client import AsyncClient
from .client import Client
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CodeRunError,
    ConflictError,
    InsufficientCreditsError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    WaitTimeout,
    WebhookVerificationError,
)
from .models import (
    Account,
    BatchEntry,
    Delivery,
    DeliveryAttempt,
    ErrorInfo,
    Job,
    Language,
    Submission,
    SubmitRequest,
    TestCase,
    TestCaseResult,
    Tolerance,
    WebhookSecret,
    WebhookSecretStatus,
)
from .webhooks import WebhookEvent, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "Account",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchEntry",
    "Client",
    "CodeRunError",
    "ConflictError",
    "Delivery",
    "DeliveryAttempt",
    "ErrorInfo",
    "InsufficientCreditsError",
    "Job",
    "Language",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "Submission",
    "SubmitRequest",
    "TestCase",
    "TestCaseResult",
    "Tolerance",
    "TransportError",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookSecret",
    "WebhookSecretStatus",
    "WebhookVerificationError",
    "__version__",
    "sign_webhook",
    "verify_webhook",
]
