"""Aggregates over an account's jobs for the dashboard: pure functions over rows, answering
the models GET /api/v1/jobs/stats sends."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from coderun_sandbox.contract import iso_utc
from pydantic import Field

from coderun_api.results import CamelModel

Bucket = Literal["hour", "day"]


@dataclass(frozen=True)
class JobRow:
    queued_at: datetime
    status: str
    execution_time_ms: int | None
    charged: bool


class StatsBucket(CamelModel):
    bucket_start: str = Field(description="The UTC hour or day (ISO-8601) of `queuedAt`.")
    count: int
    success_count: int
    success_rate: float | None = Field(description="Over the bucket's finished jobs.")
    mean_execution_time_ms: float | None


class JobStats(CamelModel):
    count: int = Field(description="Jobs queued in the window.")
    success_rate: float | None = Field(description="Successes over finished jobs; null if none.")
    mean_execution_time_ms: float | None
    p95_execution_time_ms: float | None = Field(description="Nearest-rank 95th percentile.")
    credits_used: int = Field(description="Jobs that were charged.")
    series: list[StatsBucket]


def percentile(values: list[int], fraction: float) -> float | None:
    """Nearest-rank percentile (p95 of [1..100] is 95)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


@dataclass(frozen=True)
class _Summary:
    count: int
    success_count: int
    success_rate: float | None
    mean_execution_time_ms: float | None
    p95_execution_time_ms: float | None
    credits_used: int


def _summary(rows: list[JobRow]) -> _Summary:
    final = [r for r in rows if r.status in ("success", "failed")]
    successes = sum(1 for r in final if r.status == "success")
    times = [r.execution_time_ms for r in final if r.execution_time_ms is not None]
    return _Summary(
        count=len(rows),
        success_count=successes,
        # Over finished jobs: a job still queued or running is neither.
        success_rate=round(successes / len(final), 4) if final else None,
        mean_execution_time_ms=round(sum(times) / len(times), 1) if times else None,
        p95_execution_time_ms=percentile(times, 0.95),
        credits_used=sum(1 for r in rows if r.charged),
    )


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def aggregate(rows: Iterable[JobRow], bucket: Bucket) -> JobStats:
    rows = list(rows)
    groups: dict[datetime, list[JobRow]] = {}
    for row in rows:
        groups.setdefault(bucket_start(row.queued_at, bucket), []).append(row)
    # Each model takes the figures it declares, by name, from one summary (pydantic ignores
    # the others: a bucket has no p95 or credits, the whole window no success count).
    series = [
        StatsBucket(bucket_start=iso_utc(start), **asdict(_summary(groups[start])))
        for start in sorted(groups)
    ]
    return JobStats(series=series, **asdict(_summary(rows)))
