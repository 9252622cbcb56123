"""Which queued CodeRuns may start now: at most N active, shared fairly between accounts.

Pure. A run may start while fewer than the cap have a Job and its account (`spec.account`,
written by the API; CodeRuns without one share one bucket per namespace) stays within the
per-account cap; free slots go round the accounts by `coderun_operator.fair_share`, the
rule the API's local executor follows too, and each account's runs start oldest first
(creationTimestamp, then name).

The operator's view of the cluster is kopf's in-memory index of CodeRuns (filled from the
watch, complete before any handler runs). It lags our own writes by one watch event, so
this also remembers what the operator itself just started or finished until the index
shows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from coderun_operator.fair_share import FairShare, next_bucket


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
    # spec.account: who the run is for. Empty for CodeRuns made without one (kubectl).
    account: str = field(default="", compare=False)
    # How many runs it counts as (fair_share); a later spec field (test cases) sets it.
    weight: int = field(default=1, compare=False)
    # Whether it asks for the promised limits, which pool pods serve (others start cold).
    default_limits: bool = field(default=True, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}/{self.uid}"

    @property
    def bucket(self) -> str:
        """Its account's share: per namespace, so equal account names in two namespaces
        never share one, and every CodeRun there without an account shares the empty one."""
        return f"{self.namespace}/{self.account}"


@dataclass
class Admission:
    cap: int
    per_account_cap: int | None = None
    # Runs we started (by key) that the index does not show active yet.
    started: dict[str, RunRef] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    share: FairShare = field(default_factory=FairShare)

    def observe(self, key: str, lifecycle: str) -> None:
        """The index now shows `key` in `lifecycle`: our own record of it is redundant."""
        if lifecycle in ("active", "final"):
            self.started.pop(key, None)
        if lifecycle == "final":
            self.finished.discard(key)

    def unstart(self, key: str) -> None:
        """A start that did not happen (or ended): no longer ours to count."""
        self.started.pop(key, None)

    def forget(self, key: str) -> None:
        self.started.pop(key, None)
        self.finished.discard(key)

    def active_keys(self, active: Iterable[str]) -> set[str]:
        return (set(active) | set(self.started)) - self.finished

    def plan(
        self, queued: Iterable[RunRef], active: Iterable[RunRef]
    ) -> tuple[list[RunRef], list[RunRef]]:
        """(to start now, to leave waiting). Those to start are recorded as started."""
        running = {ref.key: ref for ref in active}
        running.update(self.started)
        for key in self.finished:
            running.pop(key, None)
        busy: defaultdict[str, int] = defaultdict(int)
        for ref in running.values():
            busy[ref.bucket] += ref.weight
        queues: defaultdict[str, list[RunRef]] = defaultdict(list)
        for ref in sorted(queued):
            if ref.key not in self.started and ref.key not in self.finished:
                queues[ref.bucket].append(ref)
        per_account = self.per_account_cap or self.cap
        free = max(0, self.cap - len(running))
        admit: list[RunRef] = []
        while free > 0:
            heads = [
                self.share.bucket(key, busy[key], refs[0].weight, (refs[0].created, refs[0].name))
                for key, refs in queues.items()
                if refs
            ]
            chosen = next_bucket(heads, self.share.clock, per_account)
            if chosen is None:
                break
            ref = queues[chosen.key].pop(0)
            self.share.started(chosen)
            busy[chosen.key] += ref.weight
            admit.append(ref)
            free -= 1
        self.share.forget_idle(set(busy) | {key for key, refs in queues.items() if refs})
        self.started.update((ref.key, ref) for ref in admit)
        rest = [ref for refs in queues.values() for ref in refs]
        return admit, sorted(rest)

    def account_running(self, ref: RunRef, active: Iterable[RunRef]) -> int:
        """Weight of the runs of `ref`'s account that have a Job (for the Queued message)."""
        running = {r.key: r for r in active if r.bucket == ref.bucket}
        running.update((k, r) for k, r in self.started.items() if r.bucket == ref.bucket)
        return sum(r.weight for k, r in running.items() if k not in self.finished)
