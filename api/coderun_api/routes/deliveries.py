"""A job's webhook delivery log: every attempt, its answer, and the next try."""

from __future__ import annotations

from typing import Annotated

from coderun_sandbox.contract import iso_utc
from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from coderun_api.deps import CurrentPrincipal, StateDep
from coderun_api.envelope import ApiError, openapi_example, respond
from coderun_api.results import Envelope

router = APIRouter(prefix="/api/v1/runner", tags=["runner"])


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DeliveryAttempt(_Camel):
    attempt: int
    attempted_at: str
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    error: str | None = Field(description="Why the attempt failed; null for a 2xx.")
    duration_ms: int


class Delivery(_Camel):
    delivery_id: str = Field(description="The webhook-id header, the same on every attempt.")
    url: str
    state: str = Field(description="pending, delivered or failed (gave up after ~24 h).")
    attempts: list[DeliveryAttempt]
    next_attempt_at: str | None = Field(
        description="When the next attempt is due; null once delivered or failed, or while "
        "the job is not final yet."
    )


class DeliveryLog(_Camel):
    deliveries: list[Delivery]


@router.get(
    "/{jobId}/deliveries",
    summary="A job's webhook deliveries and their attempts",
    responses={
        200: {
            **openapi_example(
                200,
                "deliveries fetched successfully",
                {
                    "deliveries": [
                        {
                            "deliveryId": "msg_5f0c3a9e2b7d4c1a8e6f0b2d4a6c8e0f",
                            "url": "https://hooks.example.com/coderun",
                            "state": "delivered",
                            "attempts": [
                                {
                                    "attempt": 1,
                                    "attemptedAt": "2026-01-05T15:26:31.802Z",
                                    "statusCode": 200,
                                    "error": None,
                                    "durationMs": 41,
                                }
                            ],
                            "nextAttemptAt": None,
                        }
                    ]
                },
            ),
            "model": Envelope[DeliveryLog],
        },
        404: openapi_example(404, "job not found"),
    },
)
async def deliveries(
    jobId: Annotated[str, Path(description="The jobId that submit returned.")],
    principal: CurrentPrincipal,
    state: StateDep,
) -> JSONResponse:
    job = await run_in_threadpool(state.jobs.get_for_account, jobId, principal.account_id)
    if job is None:
        raise ApiError(404, f"job {jobId} not found")
    rows = await run_in_threadpool(state.webhooks.deliveries_for_job, jobId)
    log = DeliveryLog(
        deliveries=[
            Delivery(
                delivery_id=delivery.id,
                url=delivery.url,
                state=delivery.state,
                attempts=[
                    DeliveryAttempt(
                        attempt=a.attempt,
                        attempted_at=iso_utc(a.attempted_at),
                        status_code=a.status_code,
                        error=a.error,
                        duration_ms=a.duration_ms,
                    )
                    for a in attempts
                ],
                next_attempt_at=(
                    iso_utc(delivery.next_attempt_at) if delivery.next_attempt_at else None
                ),
            )
            for delivery, attempts in rows
        ]
    )
    return respond(log.model_dump(by_alias=True), "deliveries fetched successfully")
