"""The counts each fault test asserts, and where they go when `make reliability` asks.

With CODERUN_RELIABILITY_RESULTS set to a directory, each fault test writes its figures
there as `<fault>.json`; `python -m tests.reliability.report` turns them into
docs/reliability.md. Without it (CI, `make test`) nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_ENV = "CODERUN_RELIABILITY_RESULTS"


@dataclass(frozen=True)
class FaultFigures:
    """One fault's ledger, from the client's side of the REST API."""

    fault: str
    """Short key, also the JSON file's name."""
    title: str
    how: str
    """What the test did, one sentence for the report."""
    accepted: int
    """Submissions answered 200 with a jobId."""
    final: int
    """Accepted jobs whose result ended `success` or `failed`."""
    lost: int
    """Accepted jobs never final within the test's bound, or unknown to the API."""
    double_charges: int
    """Credits used beyond one per success."""
    uncharged_successes: int
    """Successes the account was not charged for."""
    successes: int
    wrong_output: int
    """Successes whose stdout was not their own program's."""
    failed: dict[str, int] = field(default_factory=dict)
    """Final failures by sandboxErrorType."""
    refused: dict[str, int] = field(default_factory=dict)
    """Submissions not accepted, by HTTP status ("no answer" when none came)."""
    unreported_jobs: int = 0
    """Jobs the API holds for the account beyond those it answered 200 for."""
    in_flight_at_fault: int = 0
    """Jobs `running` (through REST) when the fault was caused."""
    seconds: float = 0.0
    """The scenario's wall time (reported, never asserted)."""

    def assert_nothing_lost(self) -> None:
        assert self.accepted > 0, self
        assert (self.lost, self.final) == (0, self.accepted), self
        assert (self.double_charges, self.uncharged_successes) == (0, 0), self
        assert self.wrong_output == 0, self
        assert self.unreported_jobs <= self.refused.get("no answer", 0), self


def record(figures: FaultFigures) -> Path | None:
    """Write the figures as JSON when the results directory is set; its path, or None."""
    directory = os.environ.get(RESULTS_ENV)
    if not directory:
        return None
    path = Path(directory) / f"{figures.fault}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(figures), indent=2, sort_keys=True) + "\n")
    return path


def load(directory: Path) -> list[FaultFigures]:
    """Every fault's figures found in `directory`, in file-name order."""
    return [
        FaultFigures(**json.loads(path.read_text())) for path in sorted(directory.glob("*.json"))
    ]
