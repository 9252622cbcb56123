"""Admission: at most N at once, per-account caps, turns between accounts (spec.account),
oldest first within one, aware of our own unseen writes."""

from __future__ import annotations

from coderun_operator.admission import Admission, RunRef


def ref(name: str, created: str, account: str = "", namespace: str = "runs") -> RunRef:
    return RunRef(
        created=created, namespace=namespace, name=name, uid=f"uid-{name}", account=account
    )


def test_oldest_first_up_to_the_cap() -> None:
    adm = Admission(cap=2)
    queued = [
        ref("c", "2026-01-01T00:00:03Z"),
        ref("a", "2026-01-01T00:00:01Z"),
        ref("b", "2026-01-01T00:00:02Z"),
    ]
    admit, waiting = adm.plan(queued, active=[])
    assert [x.name for x in admit] == ["a", "b"]
    assert [x.name for x in waiting] == ["c"]
    # Until the index shows them active, our own starts still count.
    admit, waiting = adm.plan([queued[0]], active=[])
    assert admit == [] and [x.name for x in waiting] == ["c"]


def test_a_finished_run_frees_its_slot_before_the_index_catches_up() -> None:
    adm = Admission(cap=1)
    adm.plan([ref("a", "1")], active=[])
    adm.observe(ref("a", "1").key, "active")
    assert adm.plan([ref("b", "2")], active=[ref("a", "1")])[0] == []
    adm.finished.add(ref("a", "1").key)
    admit, _ = adm.plan([ref("b", "2")], active=[ref("a", "1")])
    assert [x.name for x in admit] == ["b"]
    adm.observe(ref("a", "1").key, "final")
    assert ref("a", "1").key not in adm.finished


def test_failed_start_is_retried() -> None:
    adm = Admission(cap=1)
    adm.plan([ref("a", "1")], active=[])
    adm.unstart(ref("a", "1").key)
    assert [x.name for x in adm.plan([ref("a", "1")], active=[])[0]] == ["a"]


def backlog(account: str, count: int, first_second: int, namespace: str = "runs") -> list[RunRef]:
    return [
        ref(f"{account}{i}", f"2026-01-01T00:00:{first_second + i:02d}Z", account, namespace)
        for i in range(count)
    ]


def test_one_account_never_holds_more_than_its_cap() -> None:
    adm = Admission(cap=4, per_account_cap=2)
    admit, waiting = adm.plan(backlog("a", 6, 0), active=[])
    # Two free slots stay free rather than go to A's third and fourth runs.
    assert [x.name for x in admit] == ["a0", "a1"]
    assert [x.name for x in waiting] == ["a2", "a3", "a4", "a5"]


def test_an_account_arriving_behind_a_backlog_gets_the_next_slot() -> None:
    adm = Admission(cap=2, per_account_cap=2)
    a = backlog("a", 6, 0)
    admit, _ = adm.plan(a, active=[])
    assert [x.name for x in admit] == ["a0", "a1"]
    for x in admit:
        adm.observe(x.key, "active")
    b = backlog("b", 1, 30)
    # a0 finished: its slot goes to B, created last, not to A's older a2.
    admit, waiting = adm.plan(a[2:] + b, active=[a[1]])
    assert [x.name for x in admit] == ["b0"]
    assert [x.name for x in waiting] == ["a2", "a3", "a4", "a5"]


def test_slots_go_round_the_accounts() -> None:
    adm = Admission(cap=1, per_account_cap=1)
    queued = backlog("a", 3, 0) + backlog("b", 2, 10) + backlog("c", 1, 20)
    order = []
    while queued:
        (started,), _ = adm.plan(queued, active=[])
        order.append(started.name)
        queued.remove(started)
        adm.observe(started.key, "final")  # it ran and ended before the next plan
    assert order == ["a0", "b0", "c0", "a1", "b1", "a2"]


def test_coderuns_without_an_account_share_one_bucket_per_namespace() -> None:
    adm = Admission(cap=6, per_account_cap=2)
    made_by_kubectl = backlog("", 3, 0, "team-x") + backlog("", 3, 0, "team-y")
    admit, waiting = adm.plan(made_by_kubectl, active=[])
    assert sorted((x.namespace, x.name) for x in admit) == [
        ("team-x", "0"),
        ("team-x", "1"),
        ("team-y", "0"),
        ("team-y", "1"),
    ]
    assert len(waiting) == 2
    # The same account name in another namespace is another bucket, too.
    assert ref("p", "1", "acct", "team-x").bucket != ref("q", "1", "acct", "team-y").bucket


def test_the_per_account_cap_counts_our_own_unseen_starts() -> None:
    adm = Admission(cap=4, per_account_cap=2)
    a = backlog("a", 4, 0)
    adm.plan(a[:1], active=[])  # started a0; the index does not show it yet
    admit, _ = adm.plan(a[1:], active=[])
    assert [x.name for x in admit] == ["a1"]
