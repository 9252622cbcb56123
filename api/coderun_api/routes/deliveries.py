"""A job's webhook delivery log: every attempt, its answer, and the next try."""

from __future__ import annotations

from typing import Annotated

from coderun_sandbox.contract import iso_utc
from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from coderun_api.deps import CurrentPrincipal, StateDep
from coderun_api.envelope import ApiError, Envelope, ok, refusal
from coderun_api.results import CamelModel, iso_or_none

router = APIRouter(prefix="/api/v1/runner", tags=["runner"])


class DeliveryAttempt(CamelModel):
    attempt: int
    attempted_at: str
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    error: str | None = Field(description="Why the attempt failed; null for a 2xx.")
    duration_ms: int


class Delivery(CamelModel):
    delivery_id: str = Field(description="The webhook-id header, the same on every attempt.")
    url: str
    state: str = Field(description="pending, delivered or failed (gave up after ~24 h).")
    attempts: list[DeliveryAttempt]
    next_attempt_at: str | None = Field(
        description="When the next attempt is due; null once delivered or failed, or while "
        "the job is not final yet."
    )


class DeliveryLog(CamelModel):
    deliveries: list[Delivery]


@router.get(
    "/{jobId}/deliveries",
    summary="A job's webhook deliveries and their attempts",
    responses={404: refusal(404, "job not found")},
)
async def deliveries(
    jobId: Annotated[str, Path(description="The jobId that submit returned.")],
    principal: CurrentPrincipal,
    state: StateDep,
) -> Envelope[DeliveryLog]:
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
                next_attempt_at=iso_or_none(delivery.next_attempt_at),
            )
            for delivery, attempts in rows
        ]
    )
    return ok(log, "deliveries fetched successfully")
