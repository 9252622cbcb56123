"""The account's own job history and its aggregates (dashboard)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from coderun_sandbox.contract import ErrorType, Status
from coderun_sandbox.languages import supported
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, func, select
from sqlmodel import col

from coderun_api.deps import CurrentPrincipal, SessionDep, parse_timestamp
from coderun_api.envelope import ApiError, openapi_example, respond
from coderun_api.jobs import execution_time_ms, job_data
from coderun_api.models import Job
from coderun_api.results import Envelope, JobPage
from coderun_api.stats import JobRow, aggregate

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

MAX_PAGE_SIZE = 100
# The offset must fit the database's 64-bit integer; nobody pages a million pages deep.
MAX_PAGE = 1_000_000
# `from`/`to`: declared as date-time so generated clients send RFC 3339 (the server also
# takes other ISO-8601 forms).
TIMESTAMP_QUERY: dict[str, Any] = {
    "description": "ISO-8601 timestamp, compared with queuedAt",
    "json_schema_extra": {"format": "date-time"},
}


def _responses_200(data: Any, message: str) -> dict[int | str, dict[str, Any]]:
    return {200: openapi_example(200, message, data)}


LIST_EXAMPLE = _responses_200(
    {
        "items": [
            {
                "jobId": "695bd82641bcbdea08ee3fbc",
                "status": "failed",
                "language": "python",
                "stdout": "",
                "stderr": "",
                "executionTimeMs": 3012,
                "queueTimeMs": 4,
                "totalTimeMs": 3016,
                "exitCode": 137,
                "sandboxErrorType": "TLE",
                "sandboxErrorMessage": "time limit exceeded: the program ran longer than 3000 ms",
                "queuedAt": "2026-01-05T15:26:30.796Z",
                "startedAt": "2026-01-05T15:26:30.800Z",
                "finishedAt": "2026-01-05T15:26:33.812Z",
            }
        ],
        "page": 1,
        "pageSize": 20,
        "total": 1,
    },
    "jobs fetched successfully",
)
STATS_EXAMPLE = _responses_200(
    {
        "count": 12,
        "successRate": 0.75,
        "meanExecutionTimeMs": 88.4,
        "p95ExecutionTimeMs": 301.0,
        "creditsUsed": 9,
        "series": [
            {
                "bucketStart": "2026-01-05T00:00:00.000Z",
                "count": 12,
                "successCount": 9,
                "successRate": 0.75,
                "meanExecutionTimeMs": 88.4,
            }
        ],
    },
    "job stats fetched successfully",
)


def _window(
    account_id: int, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Job.account_id == account_id]  # type: ignore[list-item]
    if start is not None:
        conditions.append(Job.queued_at >= start)  # type: ignore[arg-type]
    if end is not None:
        conditions.append(Job.queued_at <= end)  # type: ignore[arg-type]
    return conditions


@router.get(
    "",
    summary="Own job history, newest first",
    responses={200: {**LIST_EXAMPLE[200], "model": Envelope[JobPage]}},
)
def list_jobs(
    principal: CurrentPrincipal,
    db: SessionDep,
    language: str | None = None,
    status: str | None = None,
    error_type: Annotated[str | None, Query(alias="errorType")] = None,
    from_: Annotated[str | None, Query(alias="from", **TIMESTAMP_QUERY)] = None,
    to: Annotated[str | None, Query(**TIMESTAMP_QUERY)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> JSONResponse:
    conditions = _window(
        principal.account_id, parse_timestamp("from", from_), parse_timestamp("to", to)
    )
    if language:
        if language not in supported():
            raise ApiError(400, f"`language` must be one of: {', '.join(supported())}")
        conditions.append(Job.language == language)  # type: ignore[arg-type]
    if status:
        if status not in {s.value for s in Status}:
            raise ApiError(400, f"`status` must be one of: {', '.join(s.value for s in Status)}")
        conditions.append(Job.status == status)  # type: ignore[arg-type]
    if error_type:
        if error_type not in {e.value for e in ErrorType}:
            raise ApiError(
                400, f"`errorType` must be one of: {', '.join(e.value for e in ErrorType)}"
            )
        conditions.append(Job.error_type == error_type)  # type: ignore[arg-type]
    total = db.execute(select(func.count()).select_from(Job).where(*conditions)).scalar_one()
    rows = (
        db.execute(
            select(Job)
            .where(*conditions)
            .order_by(Job.queued_at.desc(), Job.id.desc())  # type: ignore[attr-defined]
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        .scalars()
        .all()
    )
    return respond(
        {
            "items": [job_data(job, with_cases=False) for job in rows],
            "page": page,
            "pageSize": page_size,
            "total": total,
        },
        "jobs fetched successfully",
    )


@router.get(
    "/stats",
    summary="Aggregates over own jobs: counts, success rate, times, credits",
    description="`successRate` is over finished jobs; `p95ExecutionTimeMs` is nearest-rank. "
    "Buckets are UTC hours or days of `queuedAt`.",
    responses=STATS_EXAMPLE,
)
def job_stats(
    principal: CurrentPrincipal,
    db: SessionDep,
    from_: Annotated[str | None, Query(alias="from", **TIMESTAMP_QUERY)] = None,
    to: Annotated[str | None, Query(**TIMESTAMP_QUERY)] = None,
    bucket: Literal["hour", "day"] = "day",
) -> JSONResponse:
    conditions = _window(
        principal.account_id, parse_timestamp("from", from_), parse_timestamp("to", to)
    )
    result = db.execute(
        select(
            col(Job.queued_at),
            col(Job.status),
            col(Job.started_at),
            col(Job.finished_at),
            col(Job.charged),
        ).where(*conditions)
    ).all()
    # The same executionTimeMs as each job's result and history row (not the run time).
    rows = (JobRow(r[0], r[1], execution_time_ms(r[2], r[3]), bool(r[4])) for r in result)
    data: dict[str, Any] = aggregate(rows, bucket)
    return respond(data, "job stats fetched successfully")
