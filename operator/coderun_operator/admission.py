"""Which queued CodeRuns may start now: at most N active, oldest first. Pure.

The operator's view of the cluster is kopf's in-memory index of CodeRuns (filled from the
watch, complete before any handler runs). It lags our own writes by one watch event, so
this also remembers what the operator itself just started or finished until the index
shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class RunRef:
    """One CodeRun in the index. Sorts by creation time, then name: the queue order."""

    created: str  # RFC 3339 with a Z, as the API server writes it: sorts as text
    namespace: str
    name: str
    uid: str = field(default="", compare=False)
    language: str = field(default="", compare=False)
    marked_queued: bool = field(default=False, compare=False)
    finished: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}/{self.uid}"


@dataclass
class Admission:
    cap: int
    started: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    def observe(self, key: str, lifecycle: str) -> None:
        """The index now shows `key` in `lifecycle`: our own record of it is redundant."""
        if lifecycle in ("active", "final"):
            self.started.discard(key)
        if lifecycle == "final":
            self.finished.discard(key)

    def forget(self, key: str) -> None:
        self.started.discard(key)
        self.finished.discard(key)

    def active_keys(self, active: Iterable[str]) -> set[str]:
        return (set(active) | self.started) - self.finished

    def plan(
        self, queued: Iterable[RunRef], active: Iterable[str]
    ) -> tuple[list[RunRef], list[RunRef]]:
        """(to start now, to leave waiting). Those to start are recorded as started."""
        running = self.active_keys(active)
        waiting = sorted(
            ref for ref in queued if ref.key not in self.started and ref.key not in self.finished
        )
        free = max(0, self.cap - len(running))
        admit, rest = waiting[:free], waiting[free:]
        self.started.update(ref.key for ref in admit)
        return admit, rest
