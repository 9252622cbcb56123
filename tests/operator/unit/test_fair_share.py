"""The fair-share rule both executors follow (coderun_operator.fair_share), as pure order."""

from __future__ import annotations

from collections import deque

from coderun_operator.fair_share import Bucket, FairShare, next_bucket


def serve(
    queues: dict[str, list[int]], slots: int, cap: int, share: FairShare | None = None
) -> list[str]:
    """Start runs one slot at a time until nothing may start; each run finishes as soon as
    the next one starts when all slots are busy (the oldest running one first). Queues hold
    the weights of each account's runs, oldest first. Returns the accounts in start order."""
    share = share or FairShare()
    waiting = {key: deque(weights) for key, weights in queues.items()}
    queued_at = {key: (f"t{index:03d}", key) for index, key in enumerate(queues)}
    running: deque[tuple[str, int]] = deque()
    order: list[str] = []
    while any(waiting.values()):
        if len(running) >= slots:
            running.popleft()
        busy = {key: sum(w for k, w in running if k == key) for key in waiting}
        buckets = [
            share.bucket(key, busy[key], queue[0], queued_at[key])
            for key, queue in waiting.items()
            if queue
        ]
        chosen = next_bucket(buckets, share.clock, cap)
        if chosen is None:
            running.popleft()
            continue
        share.started(chosen)
        running.append((chosen.key, waiting[chosen.key].popleft()))
        order.append(chosen.key)
    return order


def test_accounts_take_turns_whatever_their_backlog() -> None:
    # A queued six before B's two and C's one: first come, first served would run A six times.
    order = serve({"a": [1] * 6, "b": [1, 1], "c": [1]}, slots=1, cap=2)
    assert order == ["a", "b", "c", "a", "b", "a", "a", "a", "a"]


def test_an_account_that_arrives_later_goes_next() -> None:
    share = FairShare()
    assert serve({"a": [1] * 4}, slots=1, cap=2, share=share) == ["a"] * 4
    # B arrives while A still has a backlog: B's run goes before A's next one.
    assert serve({"a": [1] * 3, "b": [1]}, slots=1, cap=2, share=share)[:2] == ["b", "a"]


def test_idle_time_earns_no_credit() -> None:
    share = FairShare()
    serve({"b": [1]}, slots=1, cap=2, share=share)  # B ran once, long ago
    serve({"a": [1] * 10}, slots=1, cap=2, share=share)  # then A alone ran ten
    # B rejoins at the clock (the place of A's last run), one turn ahead of A's next: it
    # goes first, then they alternate; it does not get the ten turns it sat out.
    order = serve({"a": [1] * 3, "b": [1] * 3}, slots=1, cap=2, share=share)
    assert order == ["b", "a", "b", "a", "b", "a"]


def test_the_cap_holds_an_account_back_and_leaves_slots_to_others() -> None:
    bucket = Bucket("a", running=2, head_weight=1, oldest=("t0", "a1"))
    assert next_bucket([bucket], clock=0, cap=2) is None
    other = Bucket("b", running=0, head_weight=1, oldest=("t9", "b1"), next_start=50)
    assert next_bucket([bucket, other], clock=0, cap=2) == other


def test_weight_counts_toward_the_cap_and_the_turns() -> None:
    # A's first submission stands for three runs (judge mode): B gets three turns after it.
    order = serve({"a": [3, 1, 1], "b": [1] * 4}, slots=1, cap=4)
    assert order[:5] == ["a", "b", "b", "b", "a"]
    heavy = Bucket("a", running=1, head_weight=3, oldest=("t0", "a2"))
    assert next_bucket([heavy], clock=0, cap=3) is None  # 1 + 3 > 3
    alone = Bucket("a", running=0, head_weight=5, oldest=("t0", "a2"))
    assert next_bucket([alone], clock=0, cap=3) == alone  # heavier than the cap: runs alone


def test_ties_go_to_less_running_then_the_older_run() -> None:
    fewer = Bucket("z", running=0, head_weight=1, oldest=("t5", "z1"))
    more = Bucket("y", running=1, head_weight=1, oldest=("t1", "y1"))
    assert next_bucket([more, fewer], clock=3, cap=2) == fewer
    older = Bucket("x", running=0, head_weight=1, oldest=("t0", "x1"))
    assert next_bucket([fewer, older], clock=3, cap=2) == older


def test_forgetting_idle_accounts_keeps_only_those_ahead_of_the_clock() -> None:
    share = FairShare()
    serve({"a": [1] * 3, "b": [1]}, slots=1, cap=2, share=share)
    assert set(share.next_start) == {"a", "b"}
    share.forget_idle(busy=[])
    # B's next place is level with the clock (forgetting it changes nothing); A's is ahead.
    assert share.next_start == {"a": share.clock + 1}
