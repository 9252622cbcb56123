"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from coderun_api.db import ping
from coderun_api.deps import StateDep
from coderun_api.envelope import Envelope, ok

router = APIRouter(tags=["operations"])


class Alive(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """Each dependency's check: "ok", or why not. Only the dependencies in use appear."""

    database: str
    redis: str | None = Field(default=None, description="Present when Redis is configured.")
    executor: str | None = Field(default=None, description="Present for the kubernetes executor.")


@router.get("/healthz", summary="The process is alive")
def healthz() -> Envelope[Alive]:
    return ok(Alive(status="ok"), "alive")


@router.get(
    "/readyz",
    summary="Database and Redis (when configured) are reachable",
    response_description="Ready",
    response_model_exclude_unset=True,
    responses={503: {"model": Envelope[Readiness], "description": "Not ready"}},
)
async def readyz(state: StateDep, response: Response) -> Envelope[Readiness]:
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
    response.status_code = 200 if ready else 503
    return ok(
        Readiness.model_validate(checks), "ready" if ready else "not ready", response.status_code
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
