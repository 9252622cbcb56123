"""Aggregates over an account's jobs for the dashboard (pure functions over rows)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from coderun_sandbox.contract import iso_utc

Bucket = Literal["hour", "day"]


@dataclass(frozen=True)
class JobRow:
    queued_at: datetime
    status: str
    execution_time_ms: int | None
    charged: bool


def percentile(values: list[int], fraction: float) -> float | None:
    """Nearest-rank percentile (p95 of [1..100] is 95)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def _summary(rows: list[JobRow]) -> dict[str, Any]:
    final = [r for r in rows if r.status in ("success", "failed")]
    successes = sum(1 for r in final if r.status == "success")
    times = [r.execution_time_ms for r in final if r.execution_time_ms is not None]
    return {
        "count": len(rows),
        "successCount": successes,
        # Over finished jobs: a job still queued or running is neither.
        "successRate": round(successes / len(final), 4) if final else None,
        "meanExecutionTimeMs": round(sum(times) / len(times), 1) if times else None,
        "p95ExecutionTimeMs": percentile(times, 0.95),
        "creditsUsed": sum(1 for r in rows if r.charged),
    }


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def aggregate(rows: Iterable[JobRow], bucket: Bucket) -> dict[str, Any]:
    rows = list(rows)
    summary = _summary(rows)
    groups: dict[datetime, list[JobRow]] = {}
    for row in rows:
        groups.setdefault(bucket_start(row.queued_at, bucket), []).append(row)
    series = []
    for start in sorted(groups):
        part = _summary(groups[start])
        series.append(
            {
                "bucketStart": iso_utc(start),
                "count": part["count"],
                "successCount": part["successCount"],
                "successRate": part["successRate"],
                "meanExecutionTimeMs": part["meanExecutionTimeMs"],
            }
        )
    return {
        "count": summary["count"],
        "successRate": summary["successRate"],
        "meanExecutionTimeMs": summary["meanExecutionTimeMs"],
        "p95ExecutionTimeMs": summary["p95ExecutionTimeMs"],
        "creditsUsed": summary["creditsUsed"],
        "series": series,
    }
