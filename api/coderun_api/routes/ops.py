"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from coderun_api.db import ping
from coderun_api.deps import StateDep
from coderun_api.envelope import envelope, respond

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> JSONResponse:
    return respond({"status": "ok"}, "alive")


@router.get(
    "/readyz",
    summary="Database and Redis (when configured) are reachable",
    responses={
        200: {
            "description": "Ready",
            "content": {
                "application/json": {
                    "example": envelope({"database": "ok", "redis": "ok"}, "ready")
                }
            },
        },
        503: {
            "description": "Not ready",
            "content": {
                "application/json": {
                    "example": envelope(
                        {"database": "ok", "redis": "unreachable: ConnectionError"},
                        "not ready",
                        503,
                    )
                }
            },
        },
    },
)
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(ping, state.engine)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
    if state.settings.redis_url:
        try:
            await run_in_threadpool(state.notifier.ping)
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unreachable: {type(error).__name__}"
    if state.settings.executor != "local":
        try:
            await run_in_threadpool(state.executor.ping)
            checks["executor"] = "ok"
        except Exception as error:
            # The executor's own words (it names the API server's address and the setting
            # to change), not only the exception's type: a misconfigured cluster is the
            # usual cause, and the operator of the install must see which setting.
            checks["executor"] = f"unavailable: {error}"
    ready = all(v == "ok" for v in checks.values())
    return respond(checks, "ready" if ready else "not ready", 200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
