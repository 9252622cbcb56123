"""Where a warm run's time goes, from timestamps that already exist: the client's own clock,
the API's queuedAt, the operator's status times and conditions on the CodeRun, and the
runner's clock in the result (pods share the host's clock on this one node, so all of them
compare). Each step is the median over the warm runs of the benchmark."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from coderun_sandbox.contract import RESULT_KEY

if TYPE_CHECKING:
    from bench.k8s_run import Run

# (label, what it is); each step runs from the previous point that exists to this one.
POINTS: tuple[tuple[str, str], ...] = (
    ("submitted", "client sends `POST submit`"),
    ("queuedAt", "API accepted it (job row, CodeRun created)"),
    ("claimedAt", "operator claimed a pool pod (status.claimedAt)"),
    ("scheduledAt", "operator bound a pod to the run (status.scheduledAt)"),
    ("deliveredAt", "operator wrote the request to the pod's stdin (status.deliveredAt)"),
    ("startedAt", "runner began the run (status.startedAt, the runner's clock)"),
    ("programStart", "program started (result.startedAt)"),
    ("programEnd", "program exited (result.finishedAt)"),
    ("resultLogged", "the runner's result line reached the container log (CRI timestamp)"),
    ("statusWritten", "operator read the result line and wrote the final status (Succeeded)"),
    ("finished", "client has the final result (API woken by its watch, long-poll answered)"),
)


def _parse(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def points_of(run: Run) -> dict[str, float]:
    status = run.status
    result = status.get("result") or {}
    succeeded: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), {}
    )
    raw: dict[str, float | None] = {
        "submitted": run.submitted,
        "queuedAt": _parse(run.data.get("queuedAt")),
        "claimedAt": _parse(status.get("claimedAt")),
        "scheduledAt": _parse(status.get("scheduledAt")),
        "deliveredAt": _parse(status.get("deliveredAt")),
        "startedAt": _parse(status.get("startedAt")),
        "programStart": _parse(result.get("startedAt")),
        "programEnd": _parse(result.get("finishedAt")),
        "resultLogged": run.log_stamps.get(RESULT_KEY),
        "statusWritten": _parse(succeeded.get("lastTransitionTime")),
        "finished": run.finished,
    }
    return {name: value for name, value in raw.items() if value is not None}


def breakdown_table(warm: Sequence[Run]) -> str:
    head = "### Where a warm run's time goes"
    if not warm:
        return f"{head}\n\nNo warm run in this measurement (no pool).\n"
    points = [points_of(run) for run in warm]
    # The points most warm runs have, in order; each step over the runs that have both ends.
    names = [name for name, _ in POINTS if 2 * sum(name in p for p in points) >= len(points)]
    described = dict(POINTS)
    lines = [
        head,
        "",
        f"Python and javascript warm runs of the latency blocks ({len(warm)}), median of "
        "each step. Timestamps in milliseconds (the API's, operator's and runner's; "
        "Kubernetes' own are whole seconds), so a step under 1 ms rounds to 0.",
        "",
        "| step | until | median (ms) |",
        "|---|---|---:|",
    ]
    total = 0.0
    for previous, name in itertools.pairwise(names):
        step = statistics.median(
            (p[name] - p[previous]) * 1000 for p in points if name in p and previous in p
        )
        total += step
        lines.append(f"| {previous} → {name} | {described[name]} | {step:.0f} |")
    whole = statistics.median((p["finished"] - p["submitted"]) * 1000 for p in points)
    lines += [
        f"| (sum of the medians) | | {total:.0f} |",
        f"| submit → final, median | | {whole:.0f} |",
        "",
    ]
    missing = [name for name, _ in POINTS if name not in names]
    if missing:
        lines += [f"Not recorded (so folded into the next step): {', '.join(missing)}.", ""]
    return "\n".join(lines)
