"""One submission of the Kubernetes benchmark, as its report and breakdown read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Run:
    """One submission: wall-clock times (comparable with the servers' timestamps: one host)."""

    language: str
    job_id: str
    submitted: float
    finished: float
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    mode: str = ""  # what the benchmark asked for: cold, warm, sustained
    start: str = ""  # what the CodeRun says it got: warm or cold
    status: dict[str, Any] = field(default_factory=dict)  # the CodeRun's, once final
    # When the runner's lines reached the container log (the CRI's own timestamps).
    log_stamps: dict[str, float] = field(default_factory=dict)

    @property
    def ms(self) -> float:
        return (self.finished - self.submitted) * 1000
