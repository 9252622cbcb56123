"""The account's own job history and its aggregates (dashboard)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from coderun_sandbox.contract import ErrorType, Status
from coderun_sandbox.languages import supported
from fastapi import APIRouter, Query

from coderun_api.deps import CurrentPrincipal, StateDep, parse_timestamp
from coderun_api.envelope import ApiError, Envelope, ok
from coderun_api.jobs import HistoryFilter
from coderun_api.results import JobPage, JobResult
from coderun_api.stats import JobStats, aggregate

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


def _one_of(name: str, value: str | None, allowed: list[str]) -> str | None:
    if value and value not in allowed:
        raise ApiError(400, f"`{name}` must be one of: {', '.join(allowed)}")
    return value or None


@router.get("", summary="Own job history, newest first")
def list_jobs(
    principal: CurrentPrincipal,
    state: StateDep,
    language: str | None = None,
    status: str | None = None,
    error_type: Annotated[str | None, Query(alias="errorType")] = None,
    from_: Annotated[str | None, Query(alias="from", **TIMESTAMP_QUERY)] = None,
    to: Annotated[str | None, Query(**TIMESTAMP_QUERY)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> Envelope[JobPage]:
    which = HistoryFilter(
        start=parse_timestamp("from", from_),
        end=parse_timestamp("to", to),
        language=_one_of("language", language, list(supported())),
        status=_one_of("status", status, [s.value for s in Status]),
        error_type=_one_of("errorType", error_type, [e.value for e in ErrorType]),
    )
    total, rows = state.jobs.history(principal.account_id, which, page=page, page_size=page_size)
    items = [JobResult.of(job, with_cases=False) for job in rows]
    return ok(
        JobPage(items=items, page=page, page_size=page_size, total=total),
        "jobs fetched successfully",
    )


@router.get(
    "/stats",
    summary="Aggregates over own jobs: counts, success rate, times, credits",
    description="`successRate` is over finished jobs; `p95ExecutionTimeMs` is nearest-rank. "
    "Buckets are UTC hours or days of `queuedAt`.",
)
def job_stats(
    principal: CurrentPrincipal,
    state: StateDep,
    from_: Annotated[str | None, Query(alias="from", **TIMESTAMP_QUERY)] = None,
    to: Annotated[str | None, Query(**TIMESTAMP_QUERY)] = None,
    bucket: Literal["hour", "day"] = "day",
) -> Envelope[JobStats]:
    which = HistoryFilter(start=parse_timestamp("from", from_), end=parse_timestamp("to", to))
    rows = state.jobs.stats_rows(principal.account_id, which)
    return ok(aggregate(rows, bucket), "job stats fetched successfully")
