"""What the operator process knows of one CodeRun: one record per run, in
`Reconciler.runs`, so that forgetting a run is one `pop`.

Nothing here is the truth about a run (the CodeRun's status is, and a restarted operator
starts with no records): it is what this process saw last and what it has already set in
motion, so that a repeated event does not start the same step twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunState:
    # Serialises the status writes of this run (start, Running, redelivery, final).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The latest CodeRun body while the run is unfinished (the watch and our own patches).
    body: dict[str, Any] | None = None
    # Final: its events are ignored until the CodeRun is deleted.
    done: bool = False

    # The run's current attempt, which requeue() forgets. Its latest sandbox pod:
    pod: dict[str, Any] | None = None
    # Steps already set in motion, so that the next event does not start them again.
    marked_queued: bool = False
    marked_running: bool = False
    following: bool = False
    # Its pod was created or claimed by this process: delivered without reading its log
    # first (delivery.py). After a restart no run is, so each is checked.
    fresh: bool = False

    def requeue(self) -> None:
        """The request goes to a new pod: nothing of the old pod's delivery is kept."""
        self.pod = None
        self.marked_queued = self.marked_running = self.following = self.fresh = False

    def finish(self) -> None:
        """Final: only that is kept (and the lock, which a finalize may still hold)."""
        self.requeue()
        self.body = None
        self.done = True
