"""Builds the FastAPI app: routes, error envelope, middleware, and the lifespan that owns
the database engine, the executor, rate limits and job notifications."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from coderun_api import db, metrics
from coderun_api.config import Settings, get_settings
from coderun_api.envelope import (
    ApiError,
    api_error_handler,
    database_error_handler,
    error_body,
    http_error_handler,
    unhandled_error_handler,
    validation_error_handler,
)
from coderun_api.executors import make_executor
from coderun_api.jobs import JobStore
from coderun_api.middleware import (
    ApiHeadersMiddleware,
    BodyLimitMiddleware,
    DocsHeadersMiddleware,
    MetricsMiddleware,
)
from coderun_api.notify import JobNotifier
from coderun_api.ratelimit import RateLimits
from coderun_api.routes import (
    account,
    auth,
    batch,
    deliveries,
    events,
    jobs,
    meta,
    ops,
    runner,
    webhook_secret,
)
from coderun_api.routes.web import mount_web
from coderun_api.state import AppState
from coderun_api.webhooks.delivery import WebhookSender
from coderun_api.webhooks.store import WebhookStore

log = logging.getLogger(__name__)

DESCRIPTION = """
Run untrusted Python, JavaScript, C++ and Java and get the output with an honest verdict.

1. `POST /api/v1/runner/submit` with your key in the **X-API-KEY** header: get a `jobId`.
2. `GET /api/v1/runner/{jobId}/result` until `status` is `success` or `failed`
   (or add `?wait=30` to be answered as soon as it is).

Every response is the envelope `{code, success, message, data}`; errors too, with a
`message` that says what to fix. Limits: 3 s, 256 MB, no network; code and input up to
64 KiB each. A run costs 1 credit only when its status is `success`.
"""


# Where the API serves the interactive documentation's own files.
DOCS_ASSETS = "/docs-assets"


def build_state(settings: Settings) -> AppState:
    engine = db.make_engine(settings)
    notifier = JobNotifier(settings.redis_url)
    job_store = JobStore(engine, notifier, settings.job_lease_seconds)
    executor = make_executor(settings, job_store)
    webhooks = WebhookStore(
        engine,
        grace=timedelta(seconds=settings.webhook_secret_grace_seconds),
        backoff_base=settings.webhook_backoff_base_seconds,
        backoff_max=settings.webhook_backoff_max_seconds,
        horizon=timedelta(seconds=settings.webhook_retry_horizon_seconds),
    )
    return AppState(
        settings=settings,
        engine=engine,
        notifier=notifier,
        jobs=job_store,
        executor=executor,
        limits=RateLimits(settings),
        webhooks=webhooks,
        sender=WebhookSender(settings, webhooks, job_store, notifier),
    )


def _envelope_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents validation failures as 422 with its own schema; this API answers
    them as 400 in the envelope, so document that instead."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # The routes' own refusals (envelope.refusal) put ErrorEnvelope in the schemas.
            invalid_request = {
                "description": "Invalid request: the message says what to fix",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
                        "example": error_body(400, "`code` must be a string"),
                    }
                },
            }
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None and "400" not in responses:
                        responses["400"] = invalid_request
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate = settings.auto_migrate if settings.auto_migrate is not None else settings.is_sqlite
        if migrate:
            db.upgrade(settings)
        state = build_state(settings)
        app.state.coderun = state
        state.notifier.start()
        state.executor.start()
        state.sender.start()
        metrics.QUEUE_DEPTH.set_function(lambda: float(state.executor.queue_depth()))
        log.info("coderun api started", extra={"executor": settings.executor})
        try:
            yield
        finally:
            state.sender.stop()
            state.executor.stop()
            state.notifier.stop()
            state.engine.dispose()

    app = FastAPIOffline(
        title="CodeRun API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "runner", "description": "Submit code and fetch results (docs/api.md)."},
            {"name": "auth", "description": "Dashboard sign-up and sign-in (10 requests/min)."},
            {"name": "account", "description": "Balance, usage and the API key."},
            {"name": "jobs", "description": "Own job history and aggregates."},
            {"name": "meta", "description": "Public information."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
        lifespan=lifespan,
        # FastAPIOffline is FastAPI with /docs (Swagger UI) whose script, styles and icon are
        # served from our own origin (DOCS_ASSETS) instead of a CDN. No /redoc: ReDoc's
        # bundle still loads its logo from Redocly's CDN.
        static_url=DOCS_ASSETS,
        redoc_url=None,
    )
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    for database_error in (OperationalError, InterfaceError, SQLAlchemyTimeoutError):
        app.add_exception_handler(database_error, database_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
    for module in (
        runner,
        batch,
        events,
        deliveries,
        auth,
        account,
        webhook_secret,
        jobs,
        meta,
        ops,
    ):
        app.include_router(module.router)
    mount_web(app, settings.effective_static_dir)
    app.openapi = _envelope_openapi(app)  # type: ignore[method-assign]
    app.add_middleware(ApiHeadersMiddleware)
    app.add_middleware(DocsHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    if settings.cors_origin_list:
        # Off by default (the API is meant to be called from a backend). Origins opened
        # here call with X-API-KEY; no credentials, so a page elsewhere never rides on a
        # signed-in user's session cookie.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-KEY", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["Retry-After", "Idempotent-Replayed"],
            allow_credentials=False,
        )
    return app
