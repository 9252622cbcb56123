"""Which account's run starts next: one rule for both executors. Pure.

The operator's admission (in memory) and the API's local executor (in the database, where
every replica's claim takes it under one lock) both call `next_bucket` and `advance`, so the
rule has one owner. A bucket is one account's queue: the API's account, or on Kubernetes a
CodeRun's `spec.account`, with one shared bucket per namespace for CodeRuns that name none.

The rule, start-time fair queueing (Goyal, Vin and Cheng, 1996) over run slots:

- A run may start only while its account stays within the per-account cap (the weights of
  its running runs). A run heavier than the cap may still start when its account has none
  running, so it waits for its account's turn but never forever.
- The scheduler keeps a virtual `clock`, the place of the last run started, and per account
  `next_start`, the place its next run may take: a run of weight w started at place s moves
  its account's `next_start` to s + w.
- An account's place is max(next_start, clock). An account that was idle, or held back by
  its cap, earns no credit for it: it rejoins the round at the clock. The lowest place goes
  first; ties go to the account with less running, then to the older oldest queued run.

With weight 1 that is round-robin: a backlog of one account puts at most one of its runs
ahead of the next run of an account that joins, so another account waits at most about one
run's time limit for a slot. `weight` is the hook for submissions that stand for many runs
(judge mode: one per test case): such a run counts that many toward the cap and moves its
account that many turns back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bucket:
    """One account's queue, as the scheduler sees it at one moment."""

    key: str
    # Total weight of the account's runs running now.
    running: int
    # The weight of its oldest queued run (the one that would start).
    head_weight: int
    # Queue position of that run: (queued or creation time as sortable text, id or name).
    oldest: tuple[str, str]
    # The place the account's next run may take (0 for an account never served).
    next_start: int = 0


def may_start(bucket: Bucket, cap: int) -> bool:
    """Whether the account's oldest queued run may start under the per-account cap."""
    return bucket.running == 0 or bucket.running + bucket.head_weight <= cap


def place(bucket: Bucket, clock: int) -> int:
    return max(bucket.next_start, clock)


def next_bucket(buckets: Iterable[Bucket], clock: int, cap: int) -> Bucket | None:
    """The account whose oldest queued run starts next, or None if every one is at its cap."""
    eligible = [bucket for bucket in buckets if may_start(bucket, cap)]
    if not eligible:
        return None
    return min(eligible, key=lambda b: (place(b, clock), b.running, b.oldest, b.key))


def advance(bucket: Bucket, clock: int) -> tuple[int, int]:
    """After `bucket`'s oldest run started: (the new clock, the account's new next_start)."""
    start = place(bucket, clock)
    return start, start + bucket.head_weight


@dataclass
class FairShare:
    """The scheduler's memory when it lives in one process (the operator's admission).

    Lost on restart, which costs one round: every account then rejoins at the clock and
    the ties fall back to what each has running, then to the oldest queued run.
    """

    clock: int = 0
    next_start: dict[str, int] = field(default_factory=dict)

    def bucket(self, key: str, running: int, head_weight: int, oldest: tuple[str, str]) -> Bucket:
        return Bucket(key, running, head_weight, oldest, self.next_start.get(key, 0))

    def started(self, bucket: Bucket) -> None:
        self.clock, self.next_start[bucket.key] = advance(bucket, self.clock)

    def forget_idle(self, busy: Iterable[str]) -> None:
        """Forget accounts with nothing queued or running that the clock has caught up
        with: they would rejoin at the clock anyway, so the memory stays bounded."""
        keep = set(busy)
        for key, start in list(self.next_start.items()):
            if key not in keep and start <= self.clock:
                del self.next_start[key]
